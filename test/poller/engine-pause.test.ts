// conn.pause() / conn.resume() over loopback with a fast sender: no onData
// while paused, every byte in order after resume, the peer's close after
// the bytes before it; level- and edge-triggered.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { Collector, signal, useScope } from '../helpers.js';

const MiB = 1024 * 1024;
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe.each(['lt', 'et'] as const)('conn.pause() / conn.resume() (epollMode %s)', (epollMode) => {
  const scope = useScope();

  it('delivers nothing while paused and every byte, in order, after resume', async () => {
    // Small reads and several per report: pausing in the first onData of a
    // batch leaves more of that batch to be held back.
    const server = scope.engine({ addrs: ['127.0.0.1:0'], readBufferSize: 4096, maxConnReadTimesPerEventLoop: 8, epollMode });
    const sent = randomBytes(8 * MiB);
    const received = new Collector(sent.length);
    let whilePaused = 0;
    let pauses = 0;
    server.onData((conn, data) => {
      if (conn.paused) whilePaused++;
      received.push(data);
      if (received.length % (512 * 1024) < data.length) {
        // Pause every ~512 KiB for a while, resuming from a timer.
        conn.pause();
        pauses++;
        setTimeout(() => conn.resume(), 5);
      }
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.write(sent); // the sender pushes as fast as the kernel lets it
    expect((await received.done).equals(sent)).toBe(true);
    expect(whilePaused).toBe(0);
    expect(pauses).toBeGreaterThan(4);
  });

  it('holds the peer back while paused: nothing arrives until resume', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], epollMode });
    const opened = signal<Conn>();
    let delivered = 0;
    server.onOpen((conn) => {
      conn.pause();
      opened.resolve(conn);
    });
    server.onData((_conn, data) => {
      delivered += data.length;
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    const conn = await opened.promise;
    socket.write(randomBytes(MiB));
    for (let i = 0; i < 10; i++) await tick();
    expect(delivered).toBe(0);
    conn.resume();
    while (delivered < MiB) await tick();
    expect(delivered).toBe(MiB);
  });

  it('reports the peer closing while paused after the bytes before it', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], readBufferSize: 1024, maxConnReadTimesPerEventLoop: 4, epollMode });
    const sent = randomBytes(64 * 1024);
    const received = new Collector(sent.length);
    const closed = signal<{ err: Error | undefined; reason: string | undefined; got: number }>();
    let resumeLater: Conn | undefined;
    server.onData((conn, data) => {
      received.push(data);
      if (resumeLater === undefined) {
        resumeLater = conn;
        conn.pause();
      }
    });
    server.onClose((conn, err) => closed.resolve({ err, reason: conn.closeReason, got: received.length }));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    await new Promise<void>((resolve) => socket.end(sent, resolve)); // all sent, then FIN
    for (let i = 0; i < 5; i++) await tick();
    expect(received.length).toBeLessThan(sent.length);
    resumeLater!.resume();
    const { err, reason, got } = await closed.promise;
    expect(got).toBe(sent.length);
    expect(err).toBeUndefined();
    expect(reason).toBe('peer');
    expect((await received.done).equals(sent)).toBe(true);
  });

  it('close() while paused reports onClose once and drops what was held', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], readBufferSize: 1024, maxConnReadTimesPerEventLoop: 4, epollMode });
    const closes: (Error | undefined)[] = [];
    const closed = signal();
    let deliveries = 0;
    server.onData((conn) => {
      deliveries++;
      conn.pause();
      setTimeout(() => conn.close(), 10);
    });
    server.onClose((_conn, err) => {
      closes.push(err);
      closed.resolve();
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.on('error', () => {}); // closing with unread bytes resets the connection
    socket.write(randomBytes(16 * 1024));
    await closed.promise;
    for (let i = 0; i < 3; i++) await tick();
    expect(deliveries).toBe(1);
    expect(closes).toEqual([undefined]);
  });
});
