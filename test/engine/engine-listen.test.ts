// Listening: several addresses and their bound ports, tcp4 addresses,
// EADDRINUSE with everything closed again, reusePort, and starting twice.
import type { Engine } from '../../host/index.js';
import { describe, expect, it } from 'vitest';
import { readBytes, split, useScope } from '../helpers.js';
import { readdirSync } from 'node:fs';
import net from 'node:net';

/** Whether this machine can bind IPv6 loopback. */
const hasIPv6 = await new Promise<boolean>((resolve) => {
  const probe = net.createServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});

describe('listening', () => {
  const scope = useScope();

  it('listens on several addresses and reports each bound port', async () => {
    const server = await scope.echoServer({ addrs: ['127.0.0.1:0', '127.0.0.1:0', '127.0.0.2:0'] });
    const addrs = server.addrs;
    expect(addrs).toHaveLength(3);
    for (const addr of addrs) expect(split(addr).port).toBeGreaterThan(0);
    expect(new Set(addrs).size).toBe(3);
    for (const [i, addr] of addrs.entries()) {
      const socket = await scope.connect(addr);
      socket.write(`via ${i}`);
      expect((await readBytes(socket, `via ${i}`.length)).toString()).toBe(`via ${i}`);
      expect(split(addr).host).toBe(i === 2 ? '127.0.0.2' : '127.0.0.1');
    }
  });

  it('serves tcp4 and reports the peer and local addresses', async () => {
    const server = scope.engine({ network: 'tcp4', addrs: ['127.0.0.1:0'] });
    const seen: unknown[] = [];
    server.onOpen((conn) => seen.push(conn.remoteAddr, conn.localAddr));
    server.onData((conn, data) => conn.write(Buffer.from(data)));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.write('x');
    await readBytes(socket, 1);
    expect(seen).toEqual([
      { address: '127.0.0.1', port: socket.localPort, family: 'IPv4' },
      { address: '127.0.0.1', port: split(server.addrs[0]).port, family: 'IPv4' },
    ]);
  });

  it('serves tcp6 on [::1] and dials it', async (ctx) => {
    if (!hasIPv6) ctx.skip('::1 cannot be bound here (no IPv6 loopback)');
    const server = await scope.echoServer({ network: 'tcp6', addrs: ['[::1]:0'] });
    expect(server.addrs[0]).toMatch(/^\[::1\]:\d+$/);
    const client = scope.engine();
    const got = new Promise<string>((resolve) => client.onData((_c, d) => resolve(Buffer.from(d).toString())));
    await client.start();
    const conn = await client.dial('tcp6', server.addrs[0]);
    expect(conn.remoteAddr).toEqual({ address: '::1', port: split(server.addrs[0]).port, family: 'IPv6' });
    conn.write('six');
    expect(await got).toBe('six');
  });

  it('fails start() with EADDRINUSE and closes everything it had opened', async () => {
    const first = await scope.echoServer();
    const taken = first.addrs[0];
    const second = scope.engine({ addrs: ['127.0.0.1:0', taken] });
    const fdsBefore = readdirSync('/proc/self/fd').length;
    await expect(second.start()).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'listen' });
    expect(readdirSync('/proc/self/fd').length).toBe(fdsBefore);
    // Nothing of the failed engine keeps running: stop() is harmless and dial refuses.
    await second.stop();
    await expect(second.dial('tcp', taken)).rejects.toMatchObject({ code: 'ERR_NBIO_NOT_RUNNING' });
  });

  it('shares a port between engines with reusePort, the kernel spreading connections', async () => {
    const counts = [0, 0];
    const engines: Engine[] = [];
    for (const i of [0, 1]) {
      const addr = i === 0 ? '127.0.0.1:0' : engines[0].addrs[0];
      const engine = await scope.echoServer({ addrs: [addr], reusePort: true });
      engine.onOpen(() => counts[i]++);
      engines.push(engine);
    }
    expect(engines[1].addrs).toEqual(engines[0].addrs);
    const sockets = await Promise.all(Array.from({ length: 40 }, () => scope.connect(engines[0].addrs[0])));
    const echoes = await Promise.all(
      sockets.map((socket, i) => {
        const echoed = readBytes(socket, `m${i}`.length);
        socket.write(`m${i}`);
        return echoed;
      }),
    );
    expect(echoes.map(String)).toEqual(sockets.map((_, i) => `m${i}`));
    expect(counts[0] + counts[1]).toBe(40);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
  });

  it('refuses to start twice', async () => {
    const server = await scope.echoServer();
    await expect(server.start()).rejects.toMatchObject({ code: 'ERR_NBIO_ALREADY_STARTED' });
  });
});
