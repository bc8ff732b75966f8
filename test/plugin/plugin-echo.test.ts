// The example plugins at work over loopback: the seed's 4 MiB echo through
// the echo plugin, 1,000 connections through the line plugin, the C
// HTTP responder, backpressure (a short write, then on-drain), the
// application's own handlers beside a plugin, and a plugin per poller.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { Collector, readBytes, signal, useScope } from '../helpers.js';
import { examplePlugin, fixturePlugin } from './plugin-fixtures.js';

const MiB = 1024 * 1024;
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('example plugins', () => {
  const scope = useScope();

  it('echoes 4 MiB written in one call through the echo plugin (engine and node:net clients)', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: examplePlugin('echo') } });
    await server.start();
    const sent = randomBytes(4 * MiB);

    expect((await scope.echoedByEngineClient(server.addrs[0], sent)).equals(sent)).toBe(true);

    const socket = await scope.connect(server.addrs[0]);
    const echoed = readBytes(socket, sent.length);
    socket.write(sent);
    expect((await echoed).equals(sent)).toBe(true);
    expect(server.pluginStats!.failures).toBe(0);
  });

  it('serves 1,000 connections through the line plugin, lines split across writes', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: examplePlugin('upper-lines') } });
    await server.start();
    const client = scope.engine();
    const received = new Map<Conn, Collector>();
    client.onData((conn, data) => received.get(conn)!.push(data));
    await client.start();
    const conns = await Promise.all(Array.from({ length: 1000 }, () => client.dial('tcp', server.addrs[0])));
    const expected = conns.map((conn, i) => {
      const text = `line ${i} of many\n`.repeat(1 + (i % 3)) + `tail ${i}`;
      received.set(conn, new Collector(text.length + 1));
      conn.write(text); // the last line is unfinished...
      return `${text.toUpperCase()}\n`;
    });
    await tick();
    for (const conn of conns) conn.write('\n'); // ...until now
    const echoes = await Promise.all(conns.map((conn) => received.get(conn)!.done));
    echoes.forEach((echo, i) => expect(echo.toString()).toBe(expected[i]));
    expect(server.pluginStats).toMatchObject({ state: 'running', failures: 0, connections: 1000 });
  });

  const httpSkipped = examplePlugin('http-hello').replace(/\.wasm$/, '.skipped');
  it('answers HTTP/1.1 requests, keep-alive, with the C plugin', async (ctx) => {
    if (!existsSync(examplePlugin('http-hello'))) {
      ctx.skip(`the C plugin was not built: ${existsSync(httpSkipped) ? readFileSync(httpSkipped, 'utf8').trim() : 'dist/plugins/http-hello.wasm is missing'}`);
    }
    const server = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: examplePlugin('http-hello'), config: 'hi from C\n' } });
    await server.start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const port = Number(server.addrs[0].split(':')[1]);
    const get = () => new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject);
    });
    for (let i = 0; i < 3; i++) expect(await get()).toEqual({ status: 200, body: 'hi from C\n' });
    expect(server.connCount).toBe(1); // all three on one connection
    agent.destroy();
  });
});

describe('plugins and the engine', () => {
  const scope = useScope();

  it('write takes less than asked when the queue is full, and on-drain follows', async () => {
    const lines: string[] = [];
    const server = scope.engine({
      addrs: ['127.0.0.1:0'],
      maxWriteBufferSize: 256 * 1024,
      // More than the kernel's socket buffers on both sides can hold.
      // Filling 24 MiB in one event takes more than the default limits of an event.
      plugin: {
        module: await fixturePlugin('flood'), maxMemory: 64 * MiB, fuelPerEvent: 2 ** 31 - 1, timePerEvent: 1000,
        log: (_level, message) => lines.push(message),
      },
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.pause(); // a peer that does not read for now
    const size = 24 * MiB;
    socket.write(`flood ${size}`);
    while (!lines.some((l) => l.startsWith('short'))) await tick();
    expect(lines.filter((l) => l === 'drain')).toEqual([]);
    const [, asked, taken] = lines.find((l) => l.startsWith('short'))!.split(' ').map(Number);
    expect(taken).toBeLessThan(asked);
    const received = readBytes(socket, size);
    socket.resume();
    const data = await received;
    expect(lines).toContain('drain');
    expect(lines.indexOf('drain')).toBeGreaterThan(lines.findIndex((l) => l.startsWith('short')));
    for (let i = 0; i < data.length; i += 4099) expect(data[i]).toBe((i >> 10) & 255);
  });

  it('keeps the application onOpen, onClose and onStop as observers', async () => {
    const events: string[] = [];
    const stopped = signal();
    const server = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: examplePlugin('echo') } });
    server.onOpen(() => events.push('open'));
    server.onClose((conn, err) => events.push(`close ${err === undefined ? conn.closeReason : err.code}`));
    server.onStop(() => {
      events.push('stop');
      stopped.resolve();
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.write('abc');
    expect((await readBytes(socket, 3)).toString()).toBe('abc');
    socket.end();
    while (events.length < 2) await tick();
    await server.stop();
    await stopped.promise;
    expect(events).toEqual(['open', 'close peer', 'stop']);
    expect(server.pluginStats).toMatchObject({ state: 'stopped', failures: 0 });
    expect(server.pluginStats!.events).toBeGreaterThanOrEqual(3);
  });

  it('loads the plugin in every poller, from a URL too', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], pollers: 3, plugin: { module: pathToFileURL(examplePlugin('echo')) } });
    await server.start();
    const sockets = await Promise.all(Array.from({ length: 12 }, () => scope.connect(server.addrs[0])));
    await Promise.all(sockets.map(async (socket, i) => {
      socket.write(`url ${i}`);
      expect((await readBytes(socket, `url ${i}`.length)).toString()).toBe(`url ${i}`);
    }));
  });

  it('gives each poller its own instance, and reports failures from every poller', async () => {
    const lines: string[] = [];
    const errors: string[] = [];
    const server = scope.engine({
      addrs: ['127.0.0.1:0'],
      pollers: 2,
      plugin: { module: await fixturePlugin('forge'), restartDelay: 60_000, log: (_level, message) => lines.push(message) },
    });
    server.onPluginError((err) => errors.push((err as { code?: string }).code!));
    await server.start();
    expect(lines.filter((l) => l === 'init')).toHaveLength(2);
    const sockets = await Promise.all(Array.from({ length: 24 }, () => scope.connect(server.addrs[0])));
    await Promise.all(sockets.map(async (socket, i) => {
      socket.write(`echo ${i}`);
      expect((await readBytes(socket, `echo ${i}`.length)).toString()).toBe(`echo ${i}`);
    }));
    // Both instances were given connections: each numbers its first one the same.
    expect(lines.filter((l) => l === 'open 1048577')).toHaveLength(2);
    for (const socket of sockets) {
      socket.on('error', () => {});
      socket.write('write 7'); // a forged handle: each instance traps once (no restart within the test)
    }
    while (errors.length < 2) await tick();
    expect(errors).toEqual(['ERR_NBIO_PLUGIN_TRAP', 'ERR_NBIO_PLUGIN_TRAP']);
  });
});
