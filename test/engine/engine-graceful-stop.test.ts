// stop({ graceful: true, timeout }): listeners close at once, every
// connection is ended (what is queued is still sent), the engine waits
// until they have closed or the time-out passed, then closes the rest;
// onClose once each, then onStop. (nbio's Stop discards queued bytes.)
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { Collector, signal, useScope } from '../helpers.js';

const MiB = 1024 * 1024;

describe('graceful stop', () => {
  const scope = useScope();

  it('flushes 16 MiB to a slow reader before closing, then calls onStop', async () => {
    const payload = randomBytes(16 * MiB);
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const events: string[] = [];
    const opened = signal<Conn>();
    server.onOpen((conn) => {
      conn.write(payload);
      opened.resolve(conn);
    });
    server.onClose((_conn, err) => events.push(`close ${String(err)}`));
    server.onStop(() => events.push('stop'));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.pause();
    const conn = await opened.promise;
    expect(conn.bufferedAmount).toBeGreaterThan(0);

    const stopped = server.stop({ graceful: true, timeout: 60_000 });
    await new Promise((resolve) => setImmediate(resolve));
    // Listening ended at once.
    await expect(scope.connect(server.addrs[0])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(events).toEqual([]);

    const received = new Collector(payload.length);
    const ended = new Promise((resolve) => socket.once('end', resolve));
    const timer = setInterval(() => {
      const chunk: Buffer | null = socket.read();
      if (chunk !== null) received.push(chunk);
    }, 1);
    try {
      expect((await received.done).equals(payload)).toBe(true);
      await ended;
    } finally {
      clearInterval(timer);
    }
    await stopped;
    expect(events).toEqual(['close undefined', 'stop']);
    expect(server.connCount).toBe(0);
  });

  it('closes what is left once the time-out passes', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const closes: unknown[] = [];
    const opened = signal<Conn>();
    server.onOpen((conn) => {
      conn.write(randomBytes(16 * MiB));
      opened.resolve(conn);
    });
    server.onClose((_conn, err) => closes.push(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.on('error', () => {}); // closed with unsent bytes: a reset
    socket.pause(); // never reads
    const conn = await opened.promise;
    await server.stop({ graceful: true, timeout: 200 });
    expect(closes).toEqual([undefined]);
    expect(conn.closed).toBe(true);
    expect(server.connCount).toBe(0);
  });

  it('a plain stop() during a graceful one closes what is left at once', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const opened = signal<Conn>();
    const closed = signal();
    server.onOpen((conn) => {
      conn.write(randomBytes(16 * MiB));
      opened.resolve(conn);
    });
    server.onClose(() => closed.resolve());
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.on('error', () => {});
    socket.pause();
    await opened.promise;
    const graceful = server.stop({ graceful: true }); // no time limit
    expect(server.stop()).toBe(graceful);
    await graceful;
    await closed.promise;
  });

  it('ends UDP peers and stops taking new ones', async () => {
    const server = scope.engine({ network: 'udp', addrs: ['127.0.0.1:0'] });
    const opened = signal<Conn>();
    const closes: unknown[] = [];
    server.onOpen((conn) => opened.resolve(conn));
    server.onClose((_conn, err) => closes.push(err));
    await server.start();
    const client = await scope.udp();
    client.send('hi', Number(server.addrs[0].split(':')[1]), '127.0.0.1');
    await opened.promise;
    await server.stop({ graceful: true, timeout: 10_000 });
    expect(closes).toEqual([undefined]);
  });

  it('ends the connections of worker pollers too', async () => {
    const handlers = new URL('../fixtures/greeter.mjs', import.meta.url);
    const server = scope.engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers });
    await server.start();
    const sockets = await Promise.all([0, 1, 2, 3].map(() => scope.connect(server.addrs[0])));
    const received = sockets.map((socket) => {
      socket.pause();
      return new Promise<number>((resolve) => {
        let n = 0;
        socket.on('data', (d) => (n += d.length));
        socket.once('end', () => resolve(n));
      });
    });
    // Each greeter queued 4 MiB on open; nobody has read yet.
    while (server.connCount < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    const stopped = server.stop({ graceful: true, timeout: 60_000 });
    for (const socket of sockets) socket.resume();
    expect(await Promise.all(received)).toEqual([4, 4, 4, 4].map((n) => n * MiB));
    await stopped;
  });

  it('rejects bad stop options', () => {
    const server = scope.engine();
    expect(() => server.stop({ graceful: 'yes' as never })).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
    expect(() => server.stop({ timeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
    expect(() => server.stop({ gracefull: true } as never)).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
  });
});
