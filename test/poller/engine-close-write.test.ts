// conn.closeWrite(): what is queued is sent, then this side is shut (the
// peer reads the end of stream) while reading goes on until the peer ends.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { Collector, readBytes, signal, useScope } from '../helpers.js';

const MiB = 1024 * 1024;

describe('conn.closeWrite()', () => {
  const scope = useScope();

  it('flushes 8 MiB, sends the end of stream, and still reads what the peer sends', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const payload = randomBytes(8 * MiB);
    const opened = signal<Conn>();
    let fromPeer = '';
    const closed = signal<unknown>();
    server.onOpen((conn) => {
      conn.write(payload);
      conn.closeWrite();
      expect(() => conn.write('more')).toThrow(expect.objectContaining({ code: 'ERR_NBIO_CLOSED' }));
      opened.resolve(conn);
    });
    server.onData((_conn, data) => (fromPeer += Buffer.from(data).toString()));
    server.onClose((_conn, err) => closed.resolve(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0], { allowHalfOpen: true });
    const ended = new Promise((resolve) => socket.once('end', resolve));
    const received = readBytes(socket, payload.length);
    expect((await received).equals(payload)).toBe(true);
    await ended; // the FIN came after the last byte
    const conn = await opened.promise;
    expect(conn.closed).toBe(true);
    socket.end('reply after your end'); // this direction is still open
    expect(await closed.promise).toBeUndefined(); // this side ended first
    expect(fromPeer).toBe('reply after your end');
  });

  it('half-closes a dialed connection: the server answers, then the connection closes', async () => {
    const server = await scope.server((socket) => {
      let request = '';
      socket.on('data', (d) => (request += d));
      socket.on('end', () => socket.end(`${request.length} bytes`));
    });
    const client = scope.engine();
    const reply = new Collector('20000 bytes'.length);
    const closed = signal<unknown>();
    client.onData((_conn, data) => reply.push(data));
    client.onClose((_conn, err) => closed.resolve(err));
    await client.start();
    const conn = await client.dial('tcp', `127.0.0.1:${(server.address() as { port: number }).port}`);
    conn.write(Buffer.alloc(20_000, 'x'));
    conn.closeWrite();
    expect((await reply.done).toString()).toBe('20000 bytes');
    expect(await closed.promise).toBeUndefined();
  });
});
