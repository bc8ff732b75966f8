// allowHalfOpen: when the peer ends its side, onEnd fires and this side
// stays open for writing until it ends (or closes) itself.
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { readBytes, signal, useScope } from '../helpers.js';

describe('allowHalfOpen', () => {
  const scope = useScope();

  it('keeps the connection writable after the peer ended until this side ends it', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], allowHalfOpen: true });
    let request = '';
    const closed = signal<unknown>();
    server.onData((_conn, data) => (request += Buffer.from(data).toString()));
    server.onEnd((conn: Conn) => {
      expect(conn.closed).toBe(false);
      // Answer later, from a timer: the connection waits.
      setTimeout(() => {
        conn.write(`got ${request}`);
        conn.end();
      }, 20);
    });
    server.onClose((conn, err) => closed.resolve({ err, reason: conn.closeReason }));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    const peerEnded = new Promise((resolve) => socket.once('end', resolve));
    socket.end('question');
    expect((await readBytes(socket, 'got question'.length)).toString()).toBe('got question');
    await peerEnded;
    // The peer ended first: that is how it closed.
    expect(await closed.promise).toEqual({ err: undefined, reason: 'peer' });
  });

  it('also on a dialed connection: the engine keeps writing to a server that ended its side', async () => {
    const server = await scope.server((socket) => {
      socket.end('hello, bye');
      socket.on('data', (d) => (socket as unknown as { got: string }).got = String(d));
    });
    const client = scope.engine({ allowHalfOpen: true });
    const ended = signal<Conn>();
    client.onEnd((conn) => ended.resolve(conn));
    await client.start();
    const address = server.address() as { port: number };
    const conn = await client.dial('tcp', `127.0.0.1:${address.port}`);
    expect(await ended.promise).toBe(conn);
    conn.write('still here');
    conn.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
});
