// Hostile plugins against loading: a body larger than the limit is
// refused as it streams in; modules the engine's own steps could trip on
// (names it uses, reference types it re-encodes) load or are refused with
// a code and a sentence; what init says is cleaned; the config is the one
// start() was given; and loading holds the engine's thread only briefly.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { NbioError } from '../../host/index.js';
import { readBytes, useScope } from '../helpers.js';
import { framedPlugin, hostilePlugin } from './hostile-fixtures.js';
import { HostileRun, MiB, untilClosed } from './plugin-hostile-harness.js';

/** An HTTP server answering every request with `size` bytes, announced or not, a MiB at a time. */
async function bodyServer(size: number, announce: boolean): Promise<{ url: string; sent: () => number; close: () => Promise<void> }> {
  let sent = 0;
  const chunk = Buffer.alloc(MiB, 0x61);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, announce ? { 'content-length': String(size) } : {});
    let left = size;
    const more = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        sent += n;
        if (!res.write(chunk.subarray(0, n))) return void res.once('drain', more);
      }
      res.end();
    };
    res.on('close', () => (left = 0));
    more();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/plugin.wasm`,
    sent: () => sent,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function refusal(promise: Promise<unknown>): Promise<NbioError> {
  return (await promise.then(() => undefined, (err: unknown) => err)) as NbioError;
}

describe('hostile plugins: loading', () => {
  const scope = useScope();

  for (const announce of [true, false]) {
    it(`refuses a URL whose body passes the size limit as it streams in (${announce ? 'with' : 'without'} a content-length)`, async () => {
      const server = await bodyServer(256 * MiB, announce);
      try {
        const run = await HostileRun.create(scope, { module: server.url });
        const err = await refusal(run.engine.start());
        expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
        expect(err.message).toMatch(/larger than 67108864 bytes/);
        expect(server.sent()).toBeLessThan(announce ? 64 * MiB : 160 * MiB); // what was refused was never all read
        await run.finish(`a 256 MiB body, ${announce ? '' : 'not '}announced`, { rss: 160 * MiB });
      } finally {
        await server.close();
      }
    });
  }

  it('loads a plugin that uses reference types the engine re-encodes, and one that names its own parts as the engine does', async () => {
    const refs = '(table $refs 2 externref) (func $nulls (drop (ref.null extern)) (drop (ref.null func)))';
    const names = '(global $__nbio_fuel (mut i32) (i32.const 0)) (global $__nbio_limit (mut i32) (i32.const 0)) ' +
      '(global $__nbio_stack (mut i32) (i32.const 0)) (func $__nbio_grow_check (param i32) (result i32) (local.get 0)) ' +
      '(func $__nbio_charge (param i32) (result i32) (local.get 0)) (func $__nbio_grow_memory (param i32) (result i32) (local.get 0)) ' +
      '(func $__nbio_refuel (result i32) (i32.const 1))';
    for (const [label, extra] of [['reference types', refs], ['the engine\'s names', names]]) {
      const run = await HostileRun.create(scope, { module: await framedPlugin('echo', { EXTRA: extra }) });
      await run.start();
      const socket = await run.connect();
      socket.write('still an echo');
      expect((await readBytes(socket, 13)).toString()).toBe('still an echo');
      await run.finish(`loads with ${label}`);
    }
  });

  it('refuses what V8 cannot compile with ERR_NBIO_PLUGIN_LOAD and a sentence', async () => {
    const run = await HostileRun.create(scope, { module: await framedPlugin('echo', { EXTRA: '(func (drop (ref.null noextern)))' }) });
    const err = await refusal(run.engine.start());
    expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
    expect(err.message).toMatch(/^plugin refused: its core module is not valid WebAssembly \(.*heap type.*\)$/);
    await run.finish('a heap type V8 does not know');
  });

  it('refuses tail calls, which its stack budget does not account for', async () => {
    const tail = '(func $tail_a (param i32) (result i32) (return_call $tail_b (local.get 0))) (func $tail_b (param i32) (result i32) (local.get 0))';
    const run = await HostileRun.create(scope, { module: await framedPlugin('echo', { EXTRA: tail }) });
    const err = await refusal(run.engine.start());
    expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
    expect(err.message).toBe('plugin refused: it uses tail calls, which the engine\'s stack budget does not account for');
    await run.finish('tail calls');
  });

  it('cleans and cuts the error message init returns', async () => {
    const run = await HostileRun.create(scope, { module: await hostilePlugin('init-error') });
    const err = await refusal(run.engine.start());
    expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
    expect(err.message).toMatch(/^the plugin did not start: the plugin's init refused its config: \ufffd{200}…$/);
    await run.finish('init error');
  });

  it('gives every instance the config start() was given, whatever the caller does to its array later', async () => {
    const config = new TextEncoder().encode('first');
    const run = await HostileRun.create(scope, { module: await hostilePlugin('config'), config, restartDelay: 0 });
    await run.start();
    config.set(new TextEncoder().encode('later'));
    const ask = async () => {
      await run.until('the plugin runs', () => run.engine.pluginStats!.state === 'running');
      const socket = await run.connect();
      socket.write('?');
      return (await readBytes(socket, 5)).toString();
    };
    expect(await ask()).toBe('first');
    const trapping = await run.connect();
    const closed = untilClosed(trapping);
    trapping.write('t');
    await closed;
    await run.until('a new instance', () => run.engine.pluginStats!.restarts === 1);
    expect(await ask()).toBe('first');
    await run.finish('config');
  });

  it('loads a plugin of many functions holding the engine\'s thread only briefly', async () => {
    const body = '(local.set 0 (i32.add (local.get 0) (i32.const 7)))'.repeat(1000);
    const functions = Array.from({ length: 100 }, (_, i) => `(func $f${i} (param i32) (result i32) ${body} (local.get 0))`).join('\n');
    const module = await framedPlugin('echo', { EXTRA: functions });
    const run = await HostileRun.create(scope, { module });
    run.bystander!.reset();
    await run.engine.start(); // checked, metered and compiled, away from this thread
    const socket = await run.connect();
    socket.write('loaded');
    expect((await readBytes(socket, 6)).toString()).toBe('loaded');
    await run.finish(`loading ${(module.length / MiB).toFixed(1)} MiB`);
  });
});
