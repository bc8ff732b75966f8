// Closing and stopping: a peer's reset or end, end() and close() on this side,
// stop(), and each connection's onClose exactly once with its cause.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FD_MASK } from '../../host/generated/abi.js';
import type { Conn } from '../../host/index.js';
import { readBytes, signal, useScope } from '../helpers.js';

describe('closing and stopping', () => {
  const scope = useScope();

  it('reports a peer reset (SO_LINGER 0) to onClose once, as ECONNRESET', async () => {
    const closes: (Error | undefined)[] = [];
    const closed = signal();
    const opened = signal();
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen(() => opened.resolve());
    server.onClose((_conn, err) => {
      closes.push(err);
      closed.resolve();
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    await opened.promise;
    socket.resetAndDestroy();
    await closed.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(closes).toHaveLength(1);
    expect(closes[0]).toMatchObject({ code: 'ECONNRESET', errno: -104, syscall: 'read' });
  });

  it('reports a clean peer close after the last data, with err undefined and closeReason peer', async () => {
    const order: string[] = [];
    const closed = signal<Error | undefined>();
    let reason: string | undefined;
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen(() => order.push('open'));
    server.onData((_conn, data) => order.push(`data:${Buffer.from(data).toString()}`));
    server.onClose((conn, err) => {
      order.push('close');
      reason = conn.closeReason;
      closed.resolve(err);
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.end('bye');
    expect(await closed.promise).toBeUndefined();
    expect(reason).toBe('peer');
    expect(order).toEqual(['open', 'data:bye', 'close']);
  });

  it('end() sends everything queued, still delivers data meanwhile, then closes', async () => {
    const payload = randomBytes(8 * 1024 * 1024);
    const events: string[] = [];
    const closed = signal<Error | undefined>();
    const pinged = signal();
    let lateWrite: unknown;
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => {
      conn.write(payload);
      conn.end();
      events.push(`ending, ${conn.bufferedAmount > 0 ? 'bytes queued' : 'nothing queued'}`);
      try {
        conn.write('late');
      } catch (err) {
        lateWrite = err;
      }
    });
    server.onData((_conn, data) => {
      events.push(`data:${Buffer.from(data).toString()}`);
      pinged.resolve();
    });
    server.onClose((_conn, err) => {
      events.push('close');
      closed.resolve(err);
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.pause();
    socket.write('ping');
    await pinged.promise;
    const ended = new Promise((resolve) => socket.once('end', resolve));
    const received = readBytes(socket, payload.length);
    socket.resume();
    expect((await received).equals(payload)).toBe(true);
    await ended;
    expect(await closed.promise).toBeUndefined();
    expect(events).toEqual(['ending, bytes queued', 'data:ping', 'close']);
    expect(lateWrite).toMatchObject({ code: 'ERR_NBIO_CLOSED' });
  });

  it('end() with nothing queued closes at once', async () => {
    const closed = signal<Error | undefined>();
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => {
      conn.write('bye');
      conn.end();
      conn.end();
    });
    server.onClose((_conn, err) => closed.resolve(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    const ended = new Promise((resolve) => socket.once('end', resolve));
    expect((await readBytes(socket, 3)).toString()).toBe('bye');
    await ended;
    expect(await closed.promise).toBeUndefined();
  });

  it('gives onClose an undefined error when this side closes', async () => {
    const closed = signal<Error | undefined>();
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => conn.close());
    server.onClose((_conn, err) => closed.resolve(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    const ended = new Promise((resolve) => socket.once('end', resolve));
    socket.resume();
    expect(await closed.promise).toBeUndefined();
    await ended;
  });

  it('stop() closes every connection, calls each onClose once, then onStop; twice is harmless', async () => {
    const events: string[] = [];
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const opened = signal();
    let opens = 0;
    server.onOpen(() => {
      if (++opens === 5) opened.resolve();
    });
    server.onClose((_conn, err) => events.push(`close:${err === undefined ? 'local' : err.message}`));
    server.onStop(() => events.push('stop'));
    await server.start();
    const sockets = await Promise.all(Array.from({ length: 5 }, () => scope.connect(server.addrs[0])));
    await opened.promise;
    const ends = sockets.map((s) => new Promise((resolve) => s.once('close', resolve)));
    sockets.forEach((s) => s.resume());
    const first = server.stop();
    const second = server.stop();
    expect(second).toBe(first);
    await Promise.all([first, second, server.stop()]);
    expect(events).toEqual([...Array(5).fill('close:local'), 'stop']);
    await Promise.all(ends);
    expect(server.connCount).toBe(0);
  });

  it('rejects a dial still connecting when stopped, and refuses new ones', async () => {
    const address = await scope.unresponsiveAddress();
    const client = scope.engine();
    await client.start();
    const pending = client.dial('tcp', address);
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.connCount).toBe(1);
    await client.stop();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_NBIO_NOT_RUNNING' });
    await expect(client.dial('tcp', '127.0.0.1:9')).rejects.toMatchObject({ code: 'ERR_NBIO_NOT_RUNNING' });
    await expect(client.start()).rejects.toMatchObject({ code: 'ERR_NBIO_NOT_RUNNING' });
  });

  it('delivers onClose of a closed connection before a dial reuses its descriptor', async () => {
    const server = await scope.echoServer();
    const client = scope.engine();
    const closed: Conn[] = [];
    client.onClose((conn) => closed.push(conn));
    await client.start();
    const first = await client.dial('tcp', server.addrs[0]);
    first.close();
    const second = await client.dial('tcp', server.addrs[0]);
    expect(second.handle & FD_MASK).toBe(first.handle & FD_MASK);
    expect(closed).toEqual([first]);
  });

  it('closes a dialed connection from the client side, with onClose on both ends', async () => {
    const serverClosed = signal<{ err: Error | undefined; reason: string | undefined }>();
    const clientClosed = signal<Error | undefined>();
    const server = await scope.echoServer();
    server.onClose((c, err) => serverClosed.resolve({ err, reason: c.closeReason }));
    const client = scope.engine();
    client.onClose((_c, err) => clientClosed.resolve(err));
    await client.start();
    const conn: Conn = await client.dial('tcp', server.addrs[0]);
    conn.close();
    expect(await clientClosed.promise).toBeUndefined();
    expect(conn.closeReason).toBe('local');
    expect(await serverClosed.promise).toEqual({ err: undefined, reason: 'peer' });
  });

  it('lets the process exit once the engine is stopped', () => {
    const script = `
      import { Engine } from ${JSON.stringify(new URL('../../dist/host/index.js', import.meta.url).href)};
      const server = new Engine({ addrs: ['127.0.0.1:0'] });
      server.onData((c, d) => c.write(d));
      await server.start();
      const client = new Engine();
      await client.start();
      const conn = await client.dial('tcp', server.addrs[0]);
      conn.write('x');
      await client.stop();
      await server.stop();
      console.log('stopped');
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stdout.trim()).toBe('stopped');
    expect(child.status).toBe(0);
  });
});
