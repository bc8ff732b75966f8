// Datagrams that do not fit: one larger than readBufferSize is delivered
// cut and counted (conn.truncated), never silently; a write larger than
// UDP allows throws EMSGSIZE and the connection stays usable.
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { signal, split, useScope } from '../helpers.js';

describe('UDP: oversize datagrams', () => {
  const scope = useScope();

  it('delivers the first readBufferSize bytes of a larger datagram and counts it', async () => {
    const server = scope.engine({ network: 'udp', addrs: ['127.0.0.1:0'], readBufferSize: 1024 });
    const got: number[] = [];
    const done = signal<Conn>();
    server.onData((conn, data) => {
      got.push(data.length);
      if (got.length === 3) done.resolve(conn);
    });
    await server.start();
    const client = await scope.udp();
    const port = split(server.addrs[0]).port;
    client.send(Buffer.alloc(1024, 1), port, '127.0.0.1');
    client.send(Buffer.alloc(3000, 2), port, '127.0.0.1');
    client.send(Buffer.alloc(10, 3), port, '127.0.0.1');
    const conn = await done.promise;
    expect(got).toEqual([1024, 1024, 10]);
    expect(conn.truncated).toBe(1);
  });

  it('throws EMSGSIZE for a datagram larger than UDP allows, and sends the next one', async () => {
    const peer = await scope.udp();
    const received = signal<Buffer>();
    peer.on('message', (msg) => received.resolve(msg));
    const client = scope.engine();
    await client.start();
    const conn = await client.dial('udp', `127.0.0.1:${peer.address().port}`);
    expect(() => conn.write(Buffer.alloc(70_000))).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
    expect(conn.closed).toBe(false);
    conn.write(Buffer.alloc(65_507, 7)); // the largest IPv4 datagram fits
    expect((await received.promise).length).toBe(65_507);
  });

  it('throws EMSGSIZE on a peer of a UDP engine too', async () => {
    const server = scope.engine({ network: 'udp', addrs: ['127.0.0.1:0'] });
    const thrown = signal<unknown>();
    server.onData((conn) => {
      try {
        conn.write(Buffer.alloc(65_508));
      } catch (err) {
        thrown.resolve(err);
        conn.write('fine');
      }
    });
    await server.start();
    const client = await scope.udp();
    const reply = signal<string>();
    client.on('message', (msg) => reply.resolve(msg.toString()));
    client.send('go', split(server.addrs[0]).port, '127.0.0.1');
    expect(await thrown.promise).toMatchObject({ code: 'EMSGSIZE', syscall: 'send' });
    expect(await reply.promise).toBe('fine');
  });
});
