// The peer ends its side (FIN) while this side still has bytes queued for
// it: they are all sent, then the connection closes (onClose with
// `err` undefined, `closeReason` peer), as node:net does by default. nbio drops them (its quirk 9).
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { Collector, signal, useScope } from '../helpers.js';

const MiB = 1024 * 1024;

/**
 * Reads `size` bytes slowly, at most one 16 KiB buffer per millisecond
 * (the socket is not flowing, so Node itself reads no further ahead),
 * then waits for the end of stream.
 */
function readSlowly(socket: net.Socket, size: number): Promise<{ data: Buffer; ended: boolean }> {
  const collector = new Collector(size);
  let ended = false;
  socket.pause();
  const timer = setInterval(() => {
    const chunk: Buffer | null = socket.read();
    if (chunk !== null) collector.push(chunk);
  }, 1);
  socket.on('end', () => (ended = true));
  return new Promise((resolve, reject) => {
    socket.once('close', () => {
      clearInterval(timer);
      collector.fail(new Error(`the connection closed after ${collector.length} of ${size} bytes`));
      collector.done.then((data) => resolve({ data, ended }), reject);
    });
    socket.once('error', reject);
  });
}

describe.each(['lt', 'et'] as const)('the peer ends its side (epollMode %s)', (epollMode) => {
  const scope = useScope();

  it('sends everything still queued for it, then closes as closed by the peer', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], epollMode });
    const order: string[] = [];
    let queuedAtEnd = -1;
    const closed = signal<unknown>();
    server.onData((conn, data) => conn.write(Buffer.from(data)));
    server.onEnd((conn: Conn) => {
      order.push('end');
      queuedAtEnd = conn.bufferedAmount;
      expect(() => conn.write('late')).not.toThrow(); // still this side's to write until the engine ends it
    });
    server.onClose((conn, err) => {
      order.push(`close ${conn.closeReason}`);
      closed.resolve(err);
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    const sent = randomBytes(32 * MiB);
    const received = readSlowly(socket, sent.length + 'late'.length);
    socket.end(sent); // everything, then FIN: reading goes on
    const { data, ended } = await received;
    expect(data.subarray(0, sent.length).equals(sent)).toBe(true);
    expect(data.subarray(sent.length).toString()).toBe('late');
    expect(ended).toBe(true);
    expect(await closed.promise).toBeUndefined();
    expect(order).toEqual(['end', 'close peer']);
    expect(queuedAtEnd).toBeGreaterThan(0); // there was something left to flush after the FIN
  });

  it('ends this side after onEnd: later writes throw ERR_NBIO_CLOSED', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], epollMode });
    const ended = signal<Conn>();
    server.onEnd((conn) => setImmediate(() => ended.resolve(conn)));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.end();
    const conn = await ended.promise;
    expect(conn.closed).toBe(true);
    expect(() => conn.write('too late')).toThrow(expect.objectContaining({ code: 'ERR_NBIO_CLOSED' }));
  });
});
