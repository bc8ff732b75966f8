// Echo over loopback, end to end: large single writes, the delivered view
// written back without a copy, and 1,000 concurrent connections.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { Collector, readBytes, useScope } from '../helpers.js';

const MiB = 1024 * 1024;

describe('echo over loopback', () => {
  const scope = useScope();

  it('echoes 4 MiB written in one call by an engine client (the seed scenario)', async () => {
    const server = await scope.echoServer({ maxWriteBufferSize: 6 * MiB });
    const sent = randomBytes(4 * MiB);
    expect((await scope.echoedByEngineClient(server.addrs[0], sent)).equals(sent)).toBe(true);
  });

  it('echoes 4 MiB written in one call by a node:net client', async () => {
    const server = await scope.echoServer({ maxWriteBufferSize: 6 * MiB });
    const socket = await scope.connect(server.addrs[0]);
    const sent = randomBytes(4 * MiB);
    const received = readBytes(socket, sent.length);
    socket.write(sent);
    expect((await received).equals(sent)).toBe(true);
  });

  it('echoes the data view itself, without a copy, across read batches', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], readBufferSize: 1024 });
    server.onData((conn, data) => conn.write(data));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    const sent = randomBytes(3 * MiB);
    const received = readBytes(socket, sent.length);
    socket.write(sent);
    expect((await received).equals(sent)).toBe(true);
  });

  it('serves 1,000 concurrent connections, each echoing its own message', async () => {
    const server = await scope.echoServer();
    const client = scope.engine();
    const expected = new Map<Conn, Buffer>();
    const received = new Map<Conn, Collector>();
    client.onData((conn, data) => received.get(conn)!.push(data));
    await client.start();
    const conns = await Promise.all(Array.from({ length: 1000 }, () => client.dial('tcp', server.addrs[0])));
    for (const [i, conn] of conns.entries()) {
      const message = Buffer.from(`message ${i} `.repeat(1 + (i % 7)));
      expected.set(conn, message);
      received.set(conn, new Collector(message.length));
      conn.write(message);
    }
    const echoes = await Promise.all(conns.map((conn) => received.get(conn)!.done));
    conns.forEach((conn, i) => expect(echoes[i].equals(expected.get(conn)!)).toBe(true));
    expect(server.connCount).toBe(1000);
  });
});
