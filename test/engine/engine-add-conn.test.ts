// engine.addConn(socket): a connected node:net socket's descriptor is
// detached from libuv and served by the engine (nbio's AddConn); what Node
// had received but not delivered comes first, what it still had to send
// is sent first.
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { readBytes, signal, useScope } from '../helpers.js';

describe('engine.addConn()', () => {
  const scope = useScope();

  it('takes over a TCP socket: buffered bytes first, then everything else, echoed', async () => {
    const peer = signal<net.Socket>();
    const server = await scope.server((socket) => peer.resolve(socket));
    const engine = scope.engine();
    const seen: string[] = [];
    const opened = signal<Conn>();
    engine.onOpen((conn) => {
      seen.push('open');
      opened.resolve(conn);
    });
    engine.onData((conn, data) => {
      seen.push(Buffer.from(data).toString());
      conn.write(Buffer.from(data));
    });
    await engine.start();
    const socket = await scope.connect(`127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    const far = await peer.promise;
    // Node receives this before the engine takes over, but nobody reads it.
    socket.pause();
    far.write('early ');
    await new Promise((resolve) => setTimeout(resolve, 20));
    socket.write('queued by node'); // still Node's to send
    const conn = await engine.addConn(socket);
    expect(socket.destroyed).toBe(true);
    expect(await opened.promise).toBe(conn);
    expect(conn.remoteAddr).toEqual({ address: '127.0.0.1', port: far.localPort, family: 'IPv4' });
    expect((await readBytes(far, 'queued by node'.length + 'early '.length)).toString()).toBe('queued by nodeearly ');
    far.write('later');
    expect((await readBytes(far, 5)).toString()).toBe('later');
    expect(seen).toEqual(['open', 'early ', 'later']);
  });

  it('takes over a Unix socket', async () => {
    const path = join(scope.tempDir(), 'add.sock');
    const server = await scope.echoServer({ network: 'unix', addrs: [path] });
    const client = scope.engine();
    const got = signal<string>();
    client.onData((_conn, data) => got.resolve(Buffer.from(data).toString()));
    await client.start();
    const socket = await scope.connect(path);
    const conn = await client.addConn(socket);
    expect(conn.transport).toBe('unix');
    conn.write('over unix');
    expect(await got.promise).toBe('over unix');
    expect(server.connCount).toBe(1);
  });

  it('refuses what is not a connected node:net socket', async () => {
    const engine = scope.engine();
    await engine.start();
    await expect(engine.addConn({} as net.Socket)).rejects.toMatchObject({ code: 'ERR_NBIO_INVALID_ARG' });
    const unconnected = new net.Socket();
    await expect(engine.addConn(unconnected)).rejects.toMatchObject({ code: 'ERR_NBIO_INVALID_ARG' });
    unconnected.destroy();
  });

  it('refuses when the engine is not running', async () => {
    const engine = scope.engine();
    await expect(engine.addConn(new net.Socket())).rejects.toMatchObject({ code: 'ERR_NBIO_NOT_RUNNING' });
  });
});
