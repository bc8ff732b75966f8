// A poller whose epoll descriptor fails (epoll_wait returns an error, or
// libuv reports an error on the descriptor) stops the engine with an error
// event instead of going silent: onError (ERR_NBIO_POLLER_FAILED, the
// system error as cause), each connection's onClose with it, onStop, and
// nothing left open. The failures are injected into the native shim's
// epollWait and watcher callback (the real ones do not fail on demand).
import { describe, expect, it, vi } from 'vitest';
import type { Engine } from '../host/index.js';
import { openDescriptors, readBytes, signal, useScope, type Scope } from './helpers.js';

const inject = vi.hoisted(() => ({
  /** epollWait fails with this negated errno while set. */
  waitError: 0,
  /** The callback of the last watcher started. */
  watcher: undefined as ((status?: number) => void) | undefined,
}));

vi.mock('../host/native.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../host/native.js')>();
  const real = original.native;
  return {
    ...original,
    native: {
      ...real,
      epollWait: (...args: Parameters<typeof real.epollWait>) => (inject.waitError !== 0 ? inject.waitError : real.epollWait(...args)),
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
    inject.watcher!(-9); // what libuv does on POLLERR (see test/native-memory.test.ts)
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
});
