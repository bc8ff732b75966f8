// A connection handle is its descriptor plus an 11-bit generation, which
// wraps after 2,047 reuses of the descriptor. Here one descriptor is
// reused past the wrap, so that a live connection has the very handle of
// one closed long ago: nothing done with the stale Conn reaches the live one.
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { FD_MASK } from '../../host/generated/abi.js';
import { signal, useScope } from '../helpers.js';

describe('handle generations', () => {
  const scope = useScope();

  it('a Conn closed long ago cannot touch the live connection that has its handle again', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    const dialed = new Set<Conn>();
    const closed = new Map<Conn, () => void>();
    const toDialed: string[] = [];
    engine.onData((conn, data) => {
      if (dialed.has(conn)) toDialed.push(Buffer.from(data).toString());
      else conn.write(Buffer.from(data)); // the accepted side echoes
    });
    engine.onClose((conn) => closed.get(conn)?.());
    await engine.start();
    /** Dials; returns the connection and a promise of its onClose. */
    const dial = async (): Promise<[Conn, Promise<void>]> => {
      const conn = await engine.dial('tcp', engine.addrs[0]);
      dialed.add(conn);
      const done = signal();
      closed.set(conn, done.resolve);
      return [conn, done.promise];
    };
    const [stale, staleClosed] = await dial();
    const fd = stale.handle & FD_MASK;
    stale.close();
    await staleClosed;

    // Dial and close until the descriptor comes back with the same generation.
    let reuses = 0;
    let live: Conn | undefined;
    for (let i = 0; i < 6000 && live === undefined; i++) {
      const [conn, done] = await dial();
      if ((conn.handle & FD_MASK) === fd) reuses++;
      if (conn.handle === stale.handle) live = conn;
      else {
        conn.close();
        await done;
      }
    }
    expect(reuses).toBe(2047);
    expect(live!.handle).toBe(stale.handle);

    // The stale Conn: every call refuses or does nothing, and none reaches the live one.
    expect(() => stale.write('from the past')).toThrow(expect.objectContaining({ code: 'ERR_NBIO_CLOSED' }));
    stale.end();
    stale.close();
    stale.setDeadline(Date.now());
    expect(stale.bufferedAmount).toBe(0);
    expect(stale.remoteAddr).toBeUndefined();
    // The live one is untouched: an echo round trip through it.
    live!.write('still mine');
    await new Promise<void>((resolve) => {
      const poll = () => (toDialed.join('') === 'still mine' ? resolve() : setImmediate(poll));
      poll();
    });
    expect(live!.closed).toBe(false);
  }, 120_000);
});
