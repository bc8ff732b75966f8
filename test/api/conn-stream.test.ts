// conn.toStream(): a stream.Duplex over a connection, over loopback. Bytes
// both ways intact, backpressure both ways (the writable side's write()
// and 'drain' follow the connection's queue, a full readable side pauses
// the connection), end/close/error mapped, and the engine's own handlers
// left out for a connection that is a stream.
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { CloseMessage, Conn, ConnStream, Engine } from '../../host/index.js';
import { examplePlugin } from '../plugin/plugin-fixtures.js';
import { readBytes, signal, useScope, type Scope } from '../helpers.js';

const MiB = 1024 * 1024;

/** Resolves once `predicate` holds, checking after every macrotask (bounded by the test's time-out). */
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Reads a stream to its end. */
async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // (Without destroyOnReturn: false, iterating to the end would destroy the stream.)
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An engine whose accepted connections become streams; the engine's own data/drain/close handlers record any call. */
async function streamServer(scope: Scope, options = {}) {
  const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
  const streams: ConnStream[] = [];
  const accepted = signal<ConnStream>();
  const engineCalls: string[] = [];
  engine.onOpen((conn) => {
    const stream = conn.toStream(options);
    streams.push(stream);
    accepted.resolve(stream);
  });
  engine.onData(() => engineCalls.push('data'));
  engine.onDrain(() => engineCalls.push('drain'));
  engine.onClose(() => engineCalls.push('close'));
  await engine.start();
  return { engine, streams, accepted: accepted.promise, engineCalls };
}

describe('conn.toStream()', () => {
  const scope = useScope();

  it('echoes 8 MiB through stream.pipeline intact, with the engine\'s handlers left out', async () => {
    const { engine, accepted, engineCalls } = await streamServer(scope);
    const peer = await scope.connect(engine.addrs[0]);
    const stream = await accepted;
    const echoed = pipeline(stream, stream);
    const sent = randomBytes(8 * MiB);
    const back = readBytes(peer, sent.length);
    peer.write(sent);
    expect((await back).equals(sent)).toBe(true);
    peer.end();
    await echoed;
    expect(stream.destroyed).toBe(true);
    expect(engineCalls).toEqual([]);
    expect(engine.stats().closedBy).toEqual({ peer: 1 });
  });

  it('write() returns false while the connection\'s queue is above the high-water mark; drain comes from the engine\'s drain', async () => {
    const { engine, accepted } = await streamServer(scope, { writableHighWaterMark: 64 * 1024 });
    const peer = await scope.connect(engine.addrs[0]);
    peer.pause(); // reads nothing yet
    const stream = await accepted;
    expect(stream.write(Buffer.alloc(1000, 1))).toBe(true); // the kernel takes it at once
    await until(() => stream.writableLength === 0);
    const big = randomBytes(16 * MiB);
    expect(stream.write(big)).toBe(false);
    expect(stream.conn.bufferedAmount).toBeGreaterThan(64 * 1024);
    // Further writes wait in the stream, not in the connection's queue.
    const queued = stream.conn.bufferedAmount;
    expect(stream.write(Buffer.alloc(10, 2))).toBe(false);
    expect(stream.conn.bufferedAmount).toBe(queued);
    const drained = once(stream, 'drain');
    const received = readBytes(peer, 1000 + big.length + 10);
    peer.resume();
    await drained;
    expect(stream.conn.bufferedAmount).toBe(0);
    const all = await received;
    expect(all.subarray(1000, 1000 + big.length).equals(big)).toBe(true);
    expect(all.subarray(1000 + big.length)).toEqual(Buffer.alloc(10, 2));
  });

  it('a full readable side pauses the connection; reading resumes it, nothing lost', async () => {
    const { engine, accepted } = await streamServer(scope, { readableHighWaterMark: 64 * 1024 });
    const peer = await scope.connect(engine.addrs[0]);
    const stream = await accepted;
    const sent = randomBytes(32 * MiB);
    peer.write(sent);
    await until(() => stream.conn.paused);
    // The rest waits in the kernel (TCP flow control), not in the engine.
    const read = engine.stats().bytesRead;
    expect(read).toBeLessThan(sent.length);
    expect(stream.readableLength).toBeLessThan(read + 1);
    const got = Buffer.alloc(sent.length);
    let at = 0;
    stream.on('data', (chunk: Buffer) => {
      chunk.copy(got, at);
      at += chunk.length;
    });
    await until(() => at === sent.length);
    expect(got.equals(sent)).toBe(true);
    expect(stream.conn.paused).toBe(false);
  });

  it('end() sends what was written, then closes: finish, the peer\'s end, the readable side\'s end, close; no error', async () => {
    const { engine, accepted } = await streamServer(scope);
    const closes: CloseMessage[] = [];
    const onClose = (m: unknown) => closes.push(m as CloseMessage);
    diagnostics.subscribe('nbio-wasm:close', onClose);
    try {
      const peer = await scope.connect(engine.addrs[0]);
      const stream = await accepted;
      const errors: Error[] = [];
      stream.on('error', (err) => errors.push(err));
      const payload = randomBytes(4 * MiB);
      const received = new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        peer.on('data', (c) => chunks.push(c));
        peer.on('end', () => resolve(Buffer.concat(chunks)));
      });
      const finished = once(stream, 'finish');
      const ended = once(stream, 'end');
      const closed = once(stream, 'close');
      stream.resume(); // 'end', and so 'close', come once the readable side is read to its end
      stream.write(payload);
      stream.end('bye');
      await finished;
      await ended;
      expect((await received).equals(Buffer.concat([payload, Buffer.from('bye')]))).toBe(true);
      await closed;
      expect(errors).toEqual([]);
      expect(stream.conn.closed).toBe(true);
      expect(closes.map((m) => [m.conn, m.error])).toEqual([[stream.conn, undefined]]);
    } finally {
      diagnostics.unsubscribe('nbio-wasm:close', onClose);
    }
  });

  it('the peer\'s end ends the readable side; the stream closes once its consumer ends it, without an error', async () => {
    const { engine, accepted } = await streamServer(scope);
    const peer = await scope.connect(engine.addrs[0], { allowHalfOpen: true });
    const stream = await accepted;
    const errors: Error[] = [];
    stream.on('error', (err) => errors.push(err));
    const closed = once(stream, 'close');
    const back = readAll(peer);
    peer.end('last words');
    expect((await readAll(stream)).toString()).toBe('last words');
    // The readable side ended; the writable side is still the consumer's.
    expect(stream.conn.closed).toBe(false);
    stream.end('an answer after the end');
    await closed;
    expect((await back).toString()).toBe('an answer after the end');
    expect(errors).toEqual([]);
  });

  it('the peer\'s end with a large reply still queued: the readable side ends, every byte of the reply arrives, no error', async () => {
    const { engine, accepted } = await streamServer(scope);
    const peer = await scope.connect(engine.addrs[0], { allowHalfOpen: true });
    const stream = await accepted;
    const errors: Error[] = [];
    stream.on('error', (err) => errors.push(err));
    const reply = randomBytes(8 * MiB);
    const ended = once(stream, 'end');
    const closed = once(stream, 'close');
    stream.once('data', () => stream.write(reply)); // far more than the socket takes at once
    stream.once('end', () => stream.end()); // as a net.Socket without allowHalfOpen does
    stream.resume();
    const back = readBytes(peer, reply.length);
    peer.end('question');
    await ended;
    expect((await back).equals(reply)).toBe(true);
    await closed;
    expect(errors).toEqual([]);
    expect(engine.stats().closedBy).toEqual({ peer: 1 });
  });

  it('a reset is an error event, then close', async () => {
    const { engine, accepted } = await streamServer(scope);
    const peer = await scope.connect(engine.addrs[0]);
    const stream = await accepted;
    const failed = once(stream, 'error');
    const closed = new Promise((resolve) => stream.on('close', resolve));
    peer.resetAndDestroy();
    const [err] = await failed;
    expect((err as { code: string }).code).toBe('ECONNRESET');
    await closed;
  });

  it('a deadline passing is an error event too', async () => {
    const { engine, accepted } = await streamServer(scope);
    await scope.connect(engine.addrs[0]);
    const stream = await accepted;
    const failed = once(stream, 'error');
    stream.conn.setReadDeadline(Date.now() + 10);
    const [err] = await failed;
    expect((err as { code: string }).code).toBe('ERR_NBIO_READ_TIMEOUT');
  });

  it('destroy() closes the connection at once; engine.stop() closes the stream without an error', async () => {
    const { engine, streams } = await streamServer(scope);
    const a = await scope.connect(engine.addrs[0]);
    await scope.connect(engine.addrs[0]);
    await until(() => streams.length === 2);
    const peerSawEnd = once(a, 'end');
    streams[0].destroy();
    await peerSawEnd;
    await until(() => engine.stats().connections === 1);
    const errors: Error[] = [];
    streams[1].on('error', (err) => errors.push(err));
    const closed = once(streams[1], 'close');
    await engine.stop();
    await closed;
    expect(errors).toEqual([]);
  });

  it('setTimeout emits timeout after a while without reads or writes', async () => {
    const { engine, accepted } = await streamServer(scope);
    await scope.connect(engine.addrs[0]);
    const stream = await accepted;
    const timedOut = signal();
    stream.setTimeout(20, () => timedOut.resolve());
    await timedOut.promise;
    expect(stream.destroyed).toBe(false);
    expect(() => stream.setTimeout(-1)).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_ARG' }));
  });

  it('works for dialed connections too, and says where it is connected', async () => {
    const server = await scope.server((socket) => socket.pipe(socket));
    const engine = scope.engine();
    engine.onOpen((conn) => conn.toStream());
    await engine.start();
    const { port } = server.address() as { port: number };
    const conn = await engine.dial('tcp', `127.0.0.1:${port}`);
    const stream = conn.toStream(); // the one onOpen made
    expect(stream.remotePort).toBe(port);
    expect(stream.remoteAddress).toBe('127.0.0.1');
    expect(stream.localPort).toBe(conn.localAddr?.port);
    stream.write('round trip');
    const [echoed] = await once(stream, 'data');
    expect((echoed as Buffer).toString()).toBe('round trip');
    // end() sends the FIN; the peer ends too (its pipe does), which ends the readable side and closes.
    stream.end();
    expect((await readAll(stream)).length).toBe(0);
  });

  it('refuses closed connections, unknown options, plugin-served and UDP connections, each with its code', async () => {
    const engine = await scope.echoServer();
    const client = scope.engine();
    await client.start();
    const conn: Conn = await client.dial('tcp', engine.addrs[0]);
    expect(() => conn.toStream({ highWaterMark: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
    expect(() => conn.toStream({ readableHighWaterMark: 0 })).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
    expect(conn.toStream()).toBe(conn.toStream());
    const other = await client.dial('tcp', engine.addrs[0]);
    other.end();
    expect(() => other.toStream()).toThrow(expect.objectContaining({ code: 'ERR_NBIO_CLOSED' }));

    const plugged: Engine = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: examplePlugin('echo') } });
    const refused = signal<unknown>();
    plugged.onOpen((c) => {
      try {
        c.toStream();
      } catch (err) {
        refused.resolve(err);
      }
    });
    await plugged.start();
    await scope.connect(plugged.addrs[0]);
    expect(await refused.promise).toMatchObject({ code: 'ERR_NBIO_NOT_SUPPORTED' });

    const udp = await scope.udp();
    const datagrams = scope.engine();
    await datagrams.start();
    const port = (udp.address() as { port: number }).port;
    const udpConn = await datagrams.dial('udp', `127.0.0.1:${port}`);
    expect(() => udpConn.toStream()).toThrow(expect.objectContaining({ code: 'ERR_NBIO_NOT_SUPPORTED' }));
  });
});
