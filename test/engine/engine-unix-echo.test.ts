// Unix stream sockets: the same write path as TCP (partial writes queue,
// never drop), dial('unix'), and paths as the connections' addresses.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { Collector, abstractName, readBytes, signal, useScope } from '../helpers.js';

const MiB = 1024 * 1024;

describe('Unix sockets: echo', () => {
  const scope = useScope();

  it('echoes 4 MiB over a socket path, dialed by an engine', async () => {
    const path = join(scope.tempDir(), 'echo.sock');
    const server = await scope.echoServer({ network: 'unix', addrs: [path] });
    expect(server.addrs).toEqual([path]);
    const sent = randomBytes(4 * MiB);
    const client = scope.engine();
    const received = new Collector(sent.length);
    client.onData((_conn, data) => received.push(data));
    await client.start();
    const conn = await client.dial('unix', path);
    expect(conn.transport).toBe('unix');
    expect(conn.remoteAddr).toEqual({ address: path, port: 0, family: 'unix' });
    expect(conn.localAddr).toEqual({ address: '', port: 0, family: 'unix' }); // unnamed
    conn.write(sent);
    expect((await received.done).equals(sent)).toBe(true);
  });

  it('queues what a full socket buffer refuses and delivers every byte once the peer reads', async () => {
    const path = abstractName();
    const server = scope.engine({ network: 'unix', addrs: [path] });
    const opened = signal<Conn>();
    server.onOpen((conn) => opened.resolve(conn));
    await server.start();
    expect(server.addrs).toEqual([path]);
    const socket = await scope.connect(path);
    socket.pause(); // reads nothing yet: the kernel's buffers fill up
    const conn = await opened.promise;
    expect(conn.localAddr).toEqual({ address: path, port: 0, family: 'unix' });
    const sent = randomBytes(8 * MiB);
    for (let at = 0; at < sent.length; at += MiB) conn.write(sent.subarray(at, at + MiB));
    // A Unix socket's buffers hold far less than 8 MiB: the rest is queued, not dropped.
    expect(conn.bufferedAmount).toBeGreaterThan(0);
    const received = readBytes(socket, sent.length);
    socket.resume();
    expect((await received).equals(sent)).toBe(true);
    expect(conn.bufferedAmount).toBe(0);
  });

  it('does nothing for TCP-only options on a Unix connection', async () => {
    const path = abstractName();
    const server = await scope.echoServer({ network: 'unix', addrs: [path], keepAlive: true });
    const socket = await scope.connect(server.addrs[0]);
    socket.write('ok');
    expect((await readBytes(socket, 2)).toString()).toBe('ok');
  });
});
