// Loading a plugin: what the engine refuses at start (ERR_NBIO_PLUGIN_LOAD,
// saying why, with nothing left open), where a plugin may come from, and
// the plugin options.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { componentWit } from '@bytecodealliance/jco';
import { afterEach, describe, expect, it } from 'vitest';
import { compileAssemblyScript } from '../../build/plugins.mjs';
import { Engine } from '../../host/index.js';
import { examplePlugin, fixturePlugin, forbiddenPlugin } from './plugin-fixtures.js';
import { readBytes, useScope } from '../helpers.js';

const MiB = 1024 * 1024;

async function refusal(engine: Engine): Promise<{ code?: string; message: string }> {
  const err = await engine.start().then(() => undefined, (e: Error & { code?: string }) => e);
  expect(err).toBeDefined();
  expect(engine.connCount).toBe(0);
  return err!;
}

describe('loading a plugin', () => {
  const scope = useScope();
  const servers: http.Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('the examples import only the plugin world', async () => {
    for (const name of ['echo', 'upper-lines']) {
      const wit = await componentWit(readFileSync(examplePlugin(name)));
      const world = wit.slice(wit.indexOf('world '));
      const imports = [...world.matchAll(/^\s*import\s+([^;]+);/gm)].map((m) => m[1]);
      expect(imports).toContain('nbio:plugin/conn@0.1.0');
      for (const i of imports) expect(['nbio:plugin/conn@0.1.0', 'nbio:plugin/host@0.1.0']).toContain(i);
      expect([...world.matchAll(/^\s*export\s+([^;]+);/gm)].map((m) => m[1])).toEqual(['nbio:plugin/handler@0.1.0']);
    }
  });

  it('refuses a plugin that imports wasi:filesystem, naming the import', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: await forbiddenPlugin() } });
    const err = await refusal(engine);
    expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
    expect(err.message).toContain('wasi:filesystem/preopens@0.2.0#get-directories');
    expect(err.message).toContain('no WASI or other interfaces are granted');
  });

  it('refuses a core module, bytes that are no WebAssembly, and a path that does not exist', async () => {
    const core = await compileAssemblyScript(new URL('../fixtures/plugins/trap.ts', import.meta.url).pathname);
    const cases: [Uint8Array | string, string][] = [
      [core, 'not a component'],
      [new TextEncoder().encode('not wasm at all'), 'not a WebAssembly component'],
      ['/nonexistent/plugin.wasm', 'cannot read the plugin'],
    ];
    for (const [module, says] of cases) {
      const err = await refusal(scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module } }));
      expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
      expect(err.message).toContain(says);
    }
  });

  it('refuses a module whose memory starts above maxMemory, and takes it under a larger budget', async () => {
    const big = await fixturePlugin('big');
    const err = await refusal(scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: big, maxMemory: MiB } }));
    expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
    expect(err.message).toMatch(/an instance needs at least \d+ bytes \(memory \d+, .*more than maxMemory \(1048576\)/);
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: big, maxMemory: 4 * MiB } });
    await engine.start();
    const socket = await scope.connect(engine.addrs[0]);
    socket.write('ok');
    expect((await readBytes(socket, 2)).toString()).toBe('ok');
  });

  it('does not start when the plugin refuses its config in init', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: examplePlugin('upper-lines'), config: 'many' } });
    const err = await refusal(engine);
    expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
    expect(err.message).toContain('upper-lines: config must be the longest line in bytes, got "many"');
  });

  it('loads from a path, a file: URL, bytes and an http: URL', async () => {
    const path = examplePlugin('echo');
    const bytes = readFileSync(path);
    const server = http.createServer((_req, res) => res.end(bytes));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const httpUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/echo.wasm`;
    for (const module of [path, pathToFileURL(path), pathToFileURL(path).href, new Uint8Array(bytes), httpUrl]) {
      const engine = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module } });
      await engine.start();
      const socket = await scope.connect(engine.addrs[0]);
      socket.write('ping');
      expect((await readBytes(socket, 4)).toString()).toBe('ping');
    }
  });
});

describe('plugin options', () => {
  const scope = useScope();
  const module = examplePlugin('echo');

  it('refuses onData next to a plugin, as an option, a method or a handlers module export', async () => {
    expect(() => new Engine({ plugin: { module }, onData: () => {} })).toThrow(/onData cannot be set with a plugin/);
    const engine = new Engine({ plugin: { module } });
    expect(() => engine.onData(() => {})).toThrow(/onData cannot be set with a plugin/);
    const withModule = scope.engine({
      addrs: ['127.0.0.1:0'], plugin: { module }, handlers: new URL('../fixtures/thread-echo.mjs', import.meta.url),
    });
    await expect(withModule.start()).rejects.toThrow(/exports onData, which cannot be used with a plugin/);
  });

  it('validates every field', () => {
    const bad: unknown[] = [
      42, { }, { module: 42 }, { module: '' }, { module, maxMemory: 0 }, { module, maxMemory: 1.5 },
      { module, fuelPerEvent: 0 }, { module, fuelPerEvent: 2 ** 31 }, { module, maxRestarts: -1 },
      { module, restartWindow: 0 }, { module, restartWindow: 2 ** 31 },
      { module, restartDelay: 'soon' }, { module, config: 7 }, { module, log: 'console' }, { module, extra: 1 },
    ];
    for (const plugin of bad) {
      expect(() => new Engine({ plugin } as never), JSON.stringify(plugin)).toThrow(
        expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }),
      );
    }
    expect(() => new Engine({ pollers: 2, plugin: { module }, onClose: () => {} })).toThrow(/handlers module/);
    expect(() => new Engine({ pollers: 2, plugin: { module } })).not.toThrow();
  });
});
