// A poller whose epoll descriptor fails (epoll_wait returns an error, or
// libuv reports an error on the descriptor) stops the engine with an error
// event instead of going silent: onError (ERR_NBIO_POLLER_FAILED, the
// system error as cause), each connection's onClose with it, onStop, and
// nothing left open. It is contained whole (host/poller/containment.ts): a paused
// connection whose close is held behind unread bytes gets its onClose too,
// once, and stats() still adds up (the connections it closed count as
// closed, none as open). And a listener paused by EMFILE is not re-armed
// once a graceful stop has closed it (no onAcceptError with EBADF every
// 50 ms). The failures are injected into the native shim's epollWait,
// accept and watcher callback (the real ones do not fail on demand).
import { describe, expect, it, vi } from 'vitest';
import type { Conn, Engine } from '../../host/index.js';
import { openDescriptors, readBytes, signal, useScope, type Scope } from '../helpers.js';

const EBADF = -9;
const EMFILE = -24;

const inject = vi.hoisted(() => ({
  /** epollWait fails with this negated errno while set. */
  waitError: 0,
  /** accept fails with this negated errno while set. */
  acceptError: 0,
  /** The callback of the last watcher started. */
  watcher: undefined as ((status?: number) => void) | undefined,
}));

vi.mock('../../host/sys/native.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../host/sys/native.js')>();
  const real = original.native;
  return {
    ...original,
    native: {
      ...real,
      epollWait: (...args: Parameters<typeof real.epollWait>) => (inject.waitError !== 0 ? inject.waitError : real.epollWait(...args)),
      accept: (fd: number) => (inject.acceptError !== 0 ? inject.acceptError : real.accept(fd)),
      watchStart: (epfd: number, callback: (status?: number) => void) => {
        inject.watcher = callback;
        return real.watchStart(epfd, callback);
      },
    },
  };
});


/** An echo engine with two live connections, recording what it reports. */
async function served(scope: Scope) {
  const log: string[] = [];
  const errors: Error[] = [];
  const stopped = signal();
  const engine: Engine = scope.engine({ addrs: ['127.0.0.1:0'] });
  engine.onData((conn, data) => conn.write(Buffer.from(data)));
  engine.onError((err) => { log.push('error'); errors.push(err); });
  engine.onClose((_conn, err) => { log.push('close'); errors.push(err!); });
  engine.onStop(() => { log.push('stop'); stopped.resolve(); });
  await engine.start();
  const clients = await Promise.all([0, 1].map(() => scope.connect(engine.addrs[0])));
  for (const c of clients) {
    c.on('error', () => {});
    const reply = readBytes(c, 2);
    c.write('hi');
    expect(String(await reply)).toBe('hi');
  }
  const closed = Promise.all(clients.map((c) => new Promise((resolve) => c.once('close', resolve))));
  return { engine, clients, log, errors, stopped: stopped.promise, closed };
}

describe('poller failures', () => {
  const scope = useScope();

  it('epoll_wait failing stops the engine with an error event, closing everything', async () => {
    const before = openDescriptors();
    const s = await served(scope);
    inject.waitError = -9;
    try {
      s.clients[0].write('x'); // wakes the poller up: its epoll_wait fails
      await s.stopped;
    } finally {
      inject.waitError = 0;
    }
    expect(s.log).toEqual(['error', 'close', 'close', 'stop']);
    for (const err of s.errors) {
      expect(err).toMatchObject({ code: 'ERR_NBIO_POLLER_FAILED', cause: { code: 'EBADF', syscall: 'epoll_wait' } });
    }
    await s.closed;
    await expect(s.engine.dial('tcp', '127.0.0.1:1')).rejects.toMatchObject({ code: 'ERR_NBIO_POLLER_FAILED' });
    await s.engine.stop();
    for (const c of s.clients) c.destroy();
    await scope.cleanup();
    expect(openDescriptors()).toEqual(before);
  });

  it('an error from the watcher on the epoll descriptor (POLLERR) does the same', async () => {
    const before = openDescriptors();
    const s = await served(scope);
    inject.watcher!(-9); // what libuv does on POLLERR (see test/sys/native-memory.test.ts)
    await s.stopped;
    expect(s.log).toEqual(['error', 'close', 'close', 'stop']);
    for (const err of s.errors) {
      expect(err).toMatchObject({ code: 'ERR_NBIO_POLLER_FAILED', cause: { code: 'EBADF', syscall: 'uv_poll' } });
    }
    await s.closed;
    for (const c of s.clients) c.destroy();
    await scope.cleanup();
    expect(openDescriptors()).toEqual(before);
  });

  it('a paused connection whose close is held behind unread bytes gets onClose once when the poller fails', async () => {
    const before = openDescriptors();
    // One byte per read: "a" and "b" come in one batch.
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], readBufferSize: 1 });
    const closes: string[] = [];
    const first = signal<Conn>();
    const stopped = signal();
    engine.onData((conn) => {
      if (conn.paused) return;
      // "b" is held behind the pause; the close the deadline makes comes behind it.
      conn.pause();
      conn.setReadDeadline(Date.now() - 1);
      first.resolve(conn);
    });
    engine.onClose((_conn, err) => closes.push(String((err as { code?: string } | undefined)?.code)));
    engine.onError(() => {});
    engine.onStop(() => stopped.resolve());
    await engine.start();
    const other = await scope.connect(engine.addrs[0]);
    other.on('error', () => {});
    const client = await scope.connect(engine.addrs[0]);
    client.on('error', () => {});
    client.write('ab');
    const conn = await first.promise;
    while (!conn.closed) await new Promise((resolve) => setTimeout(resolve, 5)); // the close is held
    expect(closes).toEqual([]);
    inject.waitError = EBADF;
    try {
      other.write('x'); // wakes the poller up: its epoll_wait fails
      await stopped.promise;
    } finally {
      inject.waitError = 0;
    }
    expect(closes).toEqual(['ERR_NBIO_POLLER_FAILED', 'ERR_NBIO_POLLER_FAILED']);
    await scope.cleanup();
    expect(openDescriptors()).toEqual(before);
  });

  it('stats() adds up once the poller failed: the connections it closed count as closed, none as open', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    engine.onData((conn, data) => conn.write(Buffer.from(data)));
    let closes = 0;
    engine.onClose(() => closes++);
    engine.onError(() => {});
    const stopped = signal();
    engine.onStop(() => stopped.resolve());
    await engine.start();
    const clients = await Promise.all([0, 1, 2].map(() => scope.connect(engine.addrs[0])));
    for (const c of clients) {
      c.on('error', () => {});
      const echo = readBytes(c, 2);
      c.write('hi');
      await echo;
    }
    inject.waitError = EBADF;
    try {
      clients[0].write('x');
      await stopped.promise;
    } finally {
      inject.waitError = 0;
    }
    expect(closes).toBe(3);
    const stats = engine.stats();
    expect(stats).toMatchObject({ connections: 0, accepted: 3, closed: 3, closedBy: { ERR_NBIO_POLLER_FAILED: 3 }, queued: 0 });
    expect(stats.connections).toBe(stats.accepted + stats.dialed + stats.added - stats.closed);
  });

  it('a listener paused by EMFILE is not re-armed once a graceful stop closed it', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    const acceptErrors: string[] = [];
    const opened = signal<Conn>();
    engine.onAcceptError((err) => acceptErrors.push((err as { code?: string }).code!));
    // 32 MiB queued for a client that does not read: the graceful stop waits for it.
    engine.onOpen((conn) => {
      conn.write(Buffer.alloc(32 * 1024 * 1024));
      opened.resolve(conn);
    });
    await engine.start();
    const reader = await scope.connect(engine.addrs[0]);
    reader.pause();
    expect((await opened.promise).bufferedAmount).toBeGreaterThan(0);
    inject.acceptError = EMFILE;
    try {
      const waiting = await scope.connect(engine.addrs[0]); // accepting it fails: the listener pauses
      waiting.on('error', () => {});
      while (acceptErrors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const stopped = engine.stop({ graceful: true });
      const atStop = acceptErrors.length;
      // Several retry periods (50 ms) pass while the stop waits for the reader.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(acceptErrors.slice(atStop)).toEqual([]);
      expect(acceptErrors.every((code) => code === 'EMFILE')).toBe(true);
      void engine.stop(); // closes what is left
      await stopped;
    } finally {
      inject.acceptError = 0;
    }
  });
});
