// engine.stats() and the nbio-wasm:* diagnostics channels, over loopback:
// the figures agree with what the handlers and the peers saw, byte for byte
// and close by close.
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { CloseMessage, Conn, EngineError, OpenMessage } from '../../host/index.js';
import { readBytes, signal, useScope } from '../helpers.js';

/** Resolves once `predicate` holds, checking after every macrotask (bounded by the test's time-out). */
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 5));
}

const codeOf = (conn: Conn, err: EngineError | undefined) => err?.code ?? conn.closeReason ?? 'unknown';

describe('engine.stats()', () => {
  const scope = useScope();

  it('is all zero before start', () => {
    const stats = scope.engine({ addrs: ['127.0.0.1:0'] }).stats();
    expect(stats).toEqual({
      connections: 0, accepted: 0, dialed: 0, added: 0, closed: 0, closedBy: {}, bytesRead: 0, bytesWritten: 0,
      queued: 0, queuedMax: 0, reactorMemory: 0, reactorMemoryInUse: 0,
    });
  });

  it('counts accepted connections, bytes each way and closes by the cause onClose saw', async () => {
    const engine = await scope.echoServer();
    const seen = new Map<string, number>();
    engine.onClose((conn, err) => seen.set(codeOf(conn, err), (seen.get(codeOf(conn, err)) ?? 0) + 1));
    const sizes = [1, 1000, 70_000, 300_000];
    const clients = await Promise.all(sizes.map(() => scope.connect(engine.addrs[0])));
    await until(() => engine.stats().connections === sizes.length);
    await Promise.all(clients.map(async (socket, i) => {
      const sent = randomBytes(sizes[i]);
      const back = readBytes(socket, sent.length);
      socket.write(sent);
      expect((await back).equals(sent)).toBe(true);
    }));
    const total = sizes.reduce((a, b) => a + b, 0);
    let stats = engine.stats();
    expect(stats).toMatchObject({ connections: 4, accepted: 4, dialed: 0, closed: 0, bytesRead: total, bytesWritten: total });

    clients[0].end(); // closed by the peer
    clients[1].resetAndDestroy(); // ECONNRESET
    await until(() => engine.stats().closed === 2);
    stats = engine.stats();
    expect(stats.connections).toBe(2);
    expect(stats.closedBy).toEqual(Object.fromEntries(seen));
    expect(Object.keys(stats.closedBy).sort()).toEqual(['ECONNRESET', 'peer']);
    expect(stats.reactorMemory).toBe(engine.reactorMemory);
    expect(stats.reactorMemoryInUse).toBe(engine.reactorMemoryInUse);

    await engine.stop(); // the other two: closed locally
    stats = engine.stats();
    expect(stats).toMatchObject({ connections: 0, accepted: 4, closed: 4 });
    expect(stats.closedBy).toEqual({ ...Object.fromEntries(seen), local: 2 });
  });

  it('counts dials, failed ones included, and every host-defined cause', async () => {
    const target = await scope.echoServer();
    const engine = scope.engine({ maxWriteBufferSize: 64 * 1024 });
    const seen = new Map<string, number>();
    engine.onClose((conn, err) => seen.set(codeOf(conn, err), (seen.get(codeOf(conn, err)) ?? 0) + 1));
    await engine.start();

    const closing = await engine.dial('tcp', target.addrs[0]);
    closing.close(); // local
    const idle = await engine.dial('tcp', target.addrs[0]);
    idle.setReadDeadline(Date.now() + 20); // ERR_NBIO_READ_TIMEOUT
    const refused = scope.engine({ addrs: ['127.0.0.1:0'] });
    await refused.start();
    const deadAddress = refused.addrs[0];
    await refused.stop();
    await expect(engine.dial('tcp', deadAddress)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(engine.dial('tcp', await scope.unresponsiveAddress(), { timeout: 20 })).rejects.toMatchObject({ code: 'ERR_NBIO_DIAL_TIMEOUT' });

    await until(() => engine.stats().closed === 4);
    const stats = engine.stats();
    expect(stats).toMatchObject({ dialed: 4, accepted: 0, connections: 0 });
    expect(stats.closedBy).toEqual({ ...Object.fromEntries(seen), ECONNREFUSED: 1, ERR_NBIO_DIAL_TIMEOUT: 1 });
    expect(Object.keys(stats.closedBy).sort()).toEqual(['ECONNREFUSED', 'ERR_NBIO_DIAL_TIMEOUT', 'ERR_NBIO_READ_TIMEOUT', 'local']);
  });

  it('tells the bytes queued now and at most, and counts queued bytes as written once the kernel takes them', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    const opened = signal<Conn>();
    engine.onOpen((conn) => opened.resolve(conn));
    await engine.start();
    const peer: net.Socket = await scope.connect(engine.addrs[0]);
    peer.pause(); // reads nothing for now
    const conn = await opened.promise;
    const size = 16 * 1024 * 1024;
    conn.write(Buffer.alloc(size, 7));
    const queued = conn.bufferedAmount;
    expect(queued).toBeGreaterThan(0);
    let stats = engine.stats();
    expect(stats.queued).toBe(queued);
    expect(stats.queuedMax).toBe(queued);
    expect(stats.bytesWritten).toBe(size - queued);

    const drained = signal();
    engine.onDrain(() => drained.resolve());
    const received = readBytes(peer, size);
    peer.resume();
    await drained.promise;
    await received;
    stats = engine.stats();
    expect(stats).toMatchObject({ queued: 0, queuedMax: queued, bytesWritten: size });
  });

  it('covers a write overflow', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], maxWriteBufferSize: 1024 });
    engine.onOpen((conn) => conn.write(Buffer.alloc(32 * 1024 * 1024)));
    await engine.start();
    const peer = await scope.connect(engine.addrs[0]);
    peer.pause();
    await until(() => engine.stats().closed === 1);
    expect(engine.stats().closedBy).toEqual({ ERR_NBIO_WRITE_OVERFLOW: 1 });
  });
});

describe('nbio-wasm:* diagnostics channels', () => {
  const scope = useScope();

  it('publish every open and close, with the connection and what onClose got', async () => {
    const opens: OpenMessage[] = [];
    const closes: CloseMessage[] = [];
    const onOpen = (m: unknown) => opens.push(m as OpenMessage);
    const onClose = (m: unknown) => closes.push(m as CloseMessage);
    diagnostics.subscribe('nbio-wasm:open', onOpen);
    diagnostics.subscribe('nbio-wasm:close', onClose);
    try {
      const server = await scope.echoServer();
      const handled: [Conn, EngineError | undefined][] = [];
      server.onClose((conn, err) => handled.push([conn, err]));
      const client = scope.engine();
      await client.start();
      const conn = await client.dial('tcp', server.addrs[0]);
      await until(() => opens.length === 2);
      expect(opens.map((m) => m.conn)).toContain(conn);
      conn.close();
      await until(() => closes.length === 2);
      const local = closes.find((m) => m.conn === conn)!;
      expect(local.error).toBeUndefined();
      const remote = closes.find((m) => m.conn !== conn)!;
      expect(remote.error).toBeUndefined();
      expect(remote.conn.closeReason).toBe('peer');
      expect(handled).toEqual([[remote.conn, remote.error]]);
    } finally {
      diagnostics.unsubscribe('nbio-wasm:open', onOpen);
      diagnostics.unsubscribe('nbio-wasm:close', onClose);
    }
  });

  it('build no message while nobody subscribes', async () => {
    const channels = [diagnostics.channel('nbio-wasm:open'), diagnostics.channel('nbio-wasm:close')];
    let published = 0;
    const originals = channels.map((c) => c.publish);
    for (const c of channels) {
      c.publish = (message: unknown) => {
        published++;
        return Reflect.apply(Object.getPrototypeOf(c).publish, c, [message]);
      };
    }
    try {
      const server = await scope.echoServer();
      const client = scope.engine();
      await client.start();
      const conn = await client.dial('tcp', server.addrs[0]);
      conn.close();
      await until(() => server.stats().closed === 1);
      expect(published).toBe(0);
    } finally {
      channels.forEach((c, i) => {
        c.publish = originals[i];
      });
    }
  });
});
