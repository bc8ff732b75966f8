// Writes: large ones queued past the socket buffer, the write buffer's limit,
// the delivered view written back, onDrain, writev, and refused writes.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { Collector, readBytes, signal, useScope } from '../helpers.js';

const MiB = 1024 * 1024;

describe('writes', () => {
  const scope = useScope();

  it('delivers 6 MiB written in onOpen intact (more than the socket buffer)', async () => {
    const payload = randomBytes(6 * MiB);
    const server = scope.engine({ addrs: ['127.0.0.1:0'], maxWriteBufferSize: 6 * MiB });
    server.onOpen((conn) => conn.write(payload));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    expect((await readBytes(socket, payload.length)).equals(payload)).toBe(true);
  });

  it('delivers 8 MiB written right after dial resolves', async () => {
    const payload = randomBytes(8 * MiB);
    const received = new Collector(payload.length);
    const server = await scope.server((socket) => socket.on('data', (chunk) => received.push(chunk)));
    const { port } = server.address() as { port: number };
    const client = scope.engine();
    await client.start();
    const conn = await client.dial('tcp4', `127.0.0.1:${port}`);
    conn.write(payload);
    expect(conn.bufferedAmount).toBeGreaterThan(0);
    expect((await received.done).equals(payload)).toBe(true);
  });

  it('echoes a 16 MiB single write with the server memory bounded by maxWriteBufferSize', async () => {
    const limit = 6 * MiB;
    const server = await scope.echoServer({ maxWriteBufferSize: limit });
    const baseline = server.reactorMemory;
    const client = scope.engine();
    const sent = randomBytes(16 * MiB);
    const received = new Collector(sent.length);
    client.onData((_conn, data) => received.push(data));
    await client.start();
    const conn = await client.dial('tcp', server.addrs[0]);
    conn.write(sent);
    expect((await received.done).equals(sent)).toBe(true);
    expect(server.reactorMemory - baseline).toBeLessThanOrEqual(limit);
  });

  it('writes the delivered data view correctly even after a write grew the reactor memory', async () => {
    const big = randomBytes(8 * MiB);
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    let grew = false;
    server.onData((conn, data) => {
      const before = server.reactorMemory;
      conn.write(big); // mostly queued: the reactor grows its memory
      grew = server.reactorMemory > before;
      conn.write(data);
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    const received = readBytes(socket, big.length + 5);
    socket.write('hello');
    const all = await received;
    expect(grew).toBe(true);
    expect(all.subarray(0, big.length).equals(big)).toBe(true);
    expect(all.subarray(big.length).toString()).toBe('hello');
  });

  it('calls onDrain once the queued bytes are taken, and only then', async () => {
    const payload = randomBytes(8 * MiB);
    const drains: number[] = [];
    let queuedAfterWrite = -1;
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => {
      conn.write(payload);
      queuedAfterWrite = conn.bufferedAmount;
    });
    server.onDrain((conn) => drains.push(conn.bufferedAmount));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    expect((await readBytes(socket, payload.length)).equals(payload)).toBe(true);
    expect(queuedAfterWrite).toBeGreaterThan(0);
    // The last bytes reached the client only after the queue drained.
    expect(drains).toEqual([0]);
  });

  it('writev sends strings, buffers and the delivered view as one concatenation', async () => {
    const big = randomBytes(4 * MiB);
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onData((conn, data) => conn.writev(['<', data, Buffer.from('|'), new Uint8Array(0), big, '>']));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    const expected = Buffer.concat([Buffer.from('<ping|'), big, Buffer.from('>')]);
    const received = readBytes(socket, expected.length);
    socket.write('ping');
    expect((await received).equals(expected)).toBe(true);
  });

  it('rejects writes of other types, and single writes over 1 GiB', async () => {
    const errors: unknown[] = [];
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const done = signal();
    server.onOpen((conn) => {
      const slab = Buffer.alloc(64 * MiB);
      const tooLarge = Array.from({ length: 17 }, () => slab); // 1,088 MiB in one write
      for (const bad of [
        () => conn.write(undefined as never),
        () => conn.write(42 as never),
        () => conn.writev('nope' as never),
        () => conn.writev([{}] as never),
        () => conn.writev(tooLarge),
      ]) {
        try {
          bad();
        } catch (err) {
          errors.push(err);
        }
      }
      done.resolve();
    });
    await server.start();
    await scope.connect(server.addrs[0]);
    await done.promise;
    expect(errors).toHaveLength(5);
    for (const err of errors) expect(err).toMatchObject({ code: 'ERR_NBIO_INVALID_ARG' });
    expect((errors[0] as Error).message).toMatch(/got undefined/);
    expect((errors[4] as Error).message).toMatch(/limited to 1073741824 bytes/);
  });

  it('refuses to write a view on reactor memory that has grown since, instead of sending nothing', async () => {
    const big = randomBytes(8 * MiB);
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const outcome = signal<unknown>();
    server.onData((conn, data) => {
      const part = data.subarray(1);
      conn.write(big); // queued: the reactor grows its memory, emptying `part`
      try {
        conn.write(part);
        outcome.resolve('written');
      } catch (err) {
        outcome.resolve(err);
      }
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.resume();
    socket.write('hello');
    expect(await outcome.promise).toMatchObject({ code: 'ERR_NBIO_STALE_VIEW', message: expect.stringMatching(/grew the engine's memory/) });
  });

  it('keeps bytes in order when writes queue behind each other', async () => {
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const expected = Buffer.concat(chunks);
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => {
      for (const chunk of chunks) conn.write(chunk);
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    expect((await readBytes(socket, expected.length)).equals(expected)).toBe(true);
  });

  it('writes strings as UTF-8', async () => {
    const text = 'héllo wörld ✓';
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => conn.write(text));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    expect((await readBytes(socket, Buffer.byteLength(text))).toString('utf8')).toBe(text);
  });

  it('closes a connection whose peer never reads with ERR_NBIO_WRITE_OVERFLOW, once', async () => {
    const closes: (Error | undefined)[] = [];
    const closed = signal();
    const server = scope.engine({ addrs: ['127.0.0.1:0'], maxWriteBufferSize: 1 * MiB });
    const chunk = Buffer.alloc(256 * 1024, 7);
    server.onOpen((conn) => {
      // Write until the engine gives up on the peer.
      for (let i = 0; i < 1000 && !conn.closed; i++) conn.write(chunk);
    });
    server.onClose((_conn, err) => {
      closes.push(err);
      closed.resolve();
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.pause();
    await closed.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(closes).toHaveLength(1);
    expect((closes[0] as { code?: string }).code).toBe('ERR_NBIO_WRITE_OVERFLOW');
    expect(server.connCount).toBe(0);
  });

  it('accepts a single write larger than maxWriteBufferSize when the kernel takes it', async () => {
    const payload = randomBytes(8 * 1024);
    const server = scope.engine({ addrs: ['127.0.0.1:0'], maxWriteBufferSize: 1024 });
    const errors: unknown[] = [];
    server.onOpen((conn) => conn.write(payload));
    server.onClose((_conn, err) => errors.push(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    expect((await readBytes(socket, payload.length)).equals(payload)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('throws ERR_NBIO_CLOSED on write after close', async () => {
    const server = await scope.echoServer();
    const client = scope.engine();
    await client.start();
    const conn: Conn = await client.dial('tcp', server.addrs[0]);
    conn.close();
    expect(conn.closed).toBe(true);
    expect(() => conn.write('late')).toThrow(expect.objectContaining({ code: 'ERR_NBIO_CLOSED' }));
    expect(() => conn.writev(['late'])).toThrow(expect.objectContaining({ code: 'ERR_NBIO_CLOSED' }));
    conn.close();
  });
});
