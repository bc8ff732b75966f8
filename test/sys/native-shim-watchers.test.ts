// The native shim's event-loop watchers in this process: watchStart,
// watchStop, watchRef on an epoll fd. Conventions in native-shim-fixtures.ts.
import { executionAsyncId } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { EPOLL, native, type WatchHandle } from '../../host/sys/native.js';
import { closeTrackedAfterEach, loopTurns, sockAddr, track, waitFor, watch, withTimeout } from './native-shim-fixtures.js';

closeTrackedAfterEach();

// --- event-loop watchers --------------------------------------------------------------------------------

describe('watchers (in process)', () => {
  /** An epoll fd that becomes readable once a client connects to `lfd` (left un-accepted, so it stays ready). */
  function readyEpoll(): { ep: number; lfd: number; connect: () => number } {
    const ep = track(native.epollCreate());
    const lfd = track(native.listen(4, '127.0.0.1', 0, 4, 0));
    const { port } = sockAddr(native.getsockname(lfd));
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, lfd, EPOLL.IN, 77)).toBe(0);
    return { ep, lfd, connect: () => track(native.connect(4, '127.0.0.1', port)) };
  }

  it('fires while the epoll set has something ready (level-triggered), and never after watchStop', async () => {
    const { ep, connect } = readyEpoll();
    const buf = new ArrayBuffer(64);
    const seen: Array<{ n: number; token: number; asyncId: number }> = [];
    let h: WatchHandle | undefined;
    const stopped = new Promise<void>((resolve) => {
      h = watch(ep, () => {
        const n = native.epollWait(ep, buf, 0, 8, 0);
        seen.push({ n, token: new DataView(buf).getUint32(0, true), asyncId: executionAsyncId() });
        // Leave the connection pending: the watcher must fire again on the next turn.
        if (seen.length === 2) {
          native.watchStop(h!); // from inside the callback
          native.watchStop(h!); // idempotent
          resolve();
        }
      });
    });
    await loopTurns(3);
    expect(seen).toHaveLength(0); // nothing ready yet
    connect();
    await withTimeout(stopped, 'watcher callbacks');
    await loopTurns(5);
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect(s.n).toBe(1);
      expect(s.token).toBe(77);
      expect(s.asyncId).toBeGreaterThan(1); // runs in the watcher's own async context
    }
    native.watchRef(h!, true); // no-op after stop
    native.watchStop(h!);
  });

  it('stops from outside, can be restarted on the same epoll fd, and rejects bad arguments', async () => {
    const { ep, connect } = readyEpoll();
    let first = 0;
    const h1 = watch(ep, () => first++);
    native.watchStop(h1);
    connect();
    waitFor(ep, EPOLL.IN); // the epoll set is ready now
    await loopTurns(3);
    expect(first).toBe(0);

    let second = 0;
    const fired = new Promise<void>((resolve) => {
      const h2 = watch(ep, () => {
        second++;
        native.watchStop(h2);
        resolve();
      });
      native.watchRef(h2, false); // unref'd: still delivers while the loop runs
    });
    await withTimeout(fired, 'restarted watcher');
    expect(second).toBe(1);

    const anyNative = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => anyNative.watchStart(ep, 'nope')).toThrow(TypeError);
    expect(() => anyNative.watchStop({})).toThrow(TypeError);
    expect(() => anyNative.watchRef(h1, 1)).toThrow(TypeError);
    expect(() => native.watchStart(-1, () => {})).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => native.watchStart(1_000_000, () => {})).toThrow(expect.objectContaining({ code: 'EBADF' }));
    const h3 = watch(ep, () => {});
    // One watcher per fd per thread: libuv refuses a second poll handle on the same fd.
    expect(() => native.watchStart(ep, () => {})).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    native.watchStop(h3);
  });
});
