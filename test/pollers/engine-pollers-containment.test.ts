// A worker poller that fails, whatever the moment, is contained whole:
// - a dial that opens and closes in one dispatch there closes its stand-in;
// - a worker whose reactor fails (epoll_wait fails) is handed nothing more:
//   new connections go to the pollers that still work;
// - a worker that ends during a graceful stop leaves no descriptor open;
// - a dial (or an accepted connection) handed to a worker that has ended,
//   before its end is noticed, rejects and its socket is closed.
// The handlers (test/fixtures/containment-handlers.mjs) post what every
// thread sees on a BroadcastChannel.
import { readdirSync } from 'node:fs';
import type net from 'node:net';
import { BroadcastChannel } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Conn, Engine } from '../../host/index.js';
import { runContained } from './containment-child.js';
import { openDescriptors, readBytes, useScope, type Scope } from '../helpers.js';

const handlers = new URL('../fixtures/containment-handlers.mjs', import.meta.url);
const closeOnOpen = new URL('../fixtures/close-on-open.mjs', import.meta.url);

/** What a handler saw, in which thread ('main' or 'wrk0'). */
interface Seen {
  thread: string;
  event: string;
  code?: string;
  key?: string;
}

let channel: BroadcastChannel;
let seen: Seen[];

beforeEach(() => {
  seen = [];
  channel = new BroadcastChannel('nbio-containment');
  channel.onmessage = (message) => seen.push((message as { data: Seen }).data);
});

afterEach(() => channel.close());

/** Resolves once `done()` holds; fails with `what` if it does not within 10 s. */
async function until(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; !done(); i++) {
    if (i === 1000) throw new Error(`timed out waiting for ${what}; seen: ${JSON.stringify(seen)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Sends `text` and resolves with the tag of the poller that echoed it ("main:", or "wrk0:" for the worker). */
async function tagOf(socket: net.Socket, text = 'who'): Promise<string> {
  const reply = readBytes(socket, 5 + text.length);
  socket.write(text);
  return String(await reply).slice(0, 5);
}

/** A client connection that the worker poller serves. */
async function onWorker(scope: Scope, engine: Engine): Promise<net.Socket> {
  for (let i = 0; i < 20; i++) {
    const socket = await scope.connect(engine.addrs[0]);
    socket.on('error', () => {});
    if ((await tagOf(socket)) === 'wrk0:') return socket;
  }
  throw new Error('no connection landed on the worker');
}

/** Threads of this process. */
function threads(): number {
  return readdirSync('/proc/self/task').length;
}

/** Blocks this thread (its event loop included) until `done()` holds, for at most 10 s. */
function blockUntil(done: () => boolean): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; !done(); i++) {
    if (i === 2000) throw new Error('timed out');
    Atomics.wait(cell, 0, 0, 5);
  }
}

describe('pollers: failure containment', () => {
  const scope = useScope();

  it('a dial that opens and closes in one dispatch on a worker closes its stand-in', async () => {
    const server = await scope.server(() => {});
    const { port } = server.address() as net.AddressInfo;
    const engine = scope.engine({ pollers: 2, handlers: closeOnOpen });
    await engine.start();
    const dials = await Promise.allSettled(Array.from({ length: 20 }, () => engine.dial('tcp', `127.0.0.1:${port}`)));
    // Each dial opened (on the worker or here) before its handler closed it: it resolves, with its stand-in or Conn.
    expect(dials.filter((d) => d.status === 'rejected')).toEqual([]);
    const conns = dials.flatMap((d) => (d.status === 'fulfilled' ? [d.value] : []));
    const open = (): Conn[] => conns.filter((conn) => !conn.closed);
    await until('every stand-in to close', () => open().length === 0).catch(() => {});
    expect(open()).toHaveLength(0);
  });

  it('a worker whose reactor fails is handed nothing more: new connections go to the engine thread', async () => {
    // In a child process whose threads let the handlers make epoll_wait fail (test/pollers/containment-child.ts).
    const { result, stderr, status } = await runContained(`
      const before = fds();
      const engine = new Engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers });
      await engine.start();
      let victim;
      for (let i = 0; i < 20 && victim === undefined; i++) {
        const s = await connect(engine.addrs[0]);
        if (await tagOf(s) === 'wrk0:') victim = s;
      }
      const gone = new Promise((resolve) => victim.once('close', resolve));
      await new Promise((resolve) => { victim.once('data', resolve); victim.write('fail-poll'); });
      victim.write('again'); // wakes the worker up: its epoll_wait fails
      await gone;
      await until('the failure to be reported', () => seen.some((s) => s.event === 'error'));
      const tags = [];
      for (let i = 0; i < 10; i++) tags.push(await tagOf(await connect(engine.addrs[0])));
      await closeAll();
      await engine.stop();
      const after = fds();
      console.log(JSON.stringify({
        errors: seen.filter((s) => s.event === 'error'),
        tags,
        fds: JSON.stringify(after) === JSON.stringify(before) ? 'as before' : { before, after },
      }));
    `);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(result).toEqual({
      errors: [{ thread: 'main', event: 'error', code: 'ERR_NBIO_POLLER_FAILED' }],
      tags: new Array(10).fill('main:'),
      fds: 'as before',
    });
  });

  it('a worker that ends during a graceful stop leaves nothing open, and its connection is reported closed', async () => {
    const before = openDescriptors();
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers });
    await engine.start();
    const victim = await onWorker(scope, engine);
    victim.pause(); // reads nothing: the worker's 32 MiB stay queued, so its graceful stop waits
    victim.write('flood');
    await until('the flood to be queued', () => engine.stats().queued > 0);
    const stopped = engine.stop({ graceful: true });
    victim.write('die');
    await stopped;
    const reported = () => seen.filter((s) => s.thread === 'main' && s.code === 'ERR_NBIO_POLLER_FAILED').map((s) => s.event).sort();
    await until('the failure and the lost connection to be reported', () => reported().length >= 2).catch(() => {});
    expect(reported()).toEqual(['close', 'error']);
    await scope.cleanup();
    expect(openDescriptors()).toEqual(before);
  });

  it('a dial handed to a worker that has ended, before its end is noticed, rejects and closes its socket', async () => {
    const before = openDescriptors();
    const server = await scope.server(() => {});
    const { port } = server.address() as net.AddressInfo;
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers, loadBalancing: 'round-robin' });
    await engine.start();
    const victim = await onWorker(scope, engine);
    const alive = threads();
    victim.write('die');
    // The worker ends while this thread is blocked: its end is not noticed yet.
    blockUntil(() => threads() < alive);
    // Round-robin: one of two dials, and one of two accepted connections, goes to the dead worker.
    const clients = [0, 1].map(() => scope.connect(engine.addrs[0]).catch(() => undefined));
    const dials = await Promise.allSettled([0, 1].map(() => engine.dial('tcp', `127.0.0.1:${port}`)));
    expect(dials.map((d) => d.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(dials.find((d) => d.status === 'rejected')).toMatchObject({ reason: { code: 'ERR_NBIO_POLLER_FAILED' } });
    await Promise.all(clients);
    await engine.stop();
    await scope.cleanup();
    expect(openDescriptors()).toEqual(before);
  });
});
