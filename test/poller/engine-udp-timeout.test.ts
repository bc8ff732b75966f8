// udpReadTimeout: a peer that sent nothing for that long is closed with
// ERR_NBIO_READ_TIMEOUT; its datagrams keep it alive (checked with fake
// timers: no timing is asserted).
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Conn } from '../../host/index.js';
import { IdleTimers } from '../../host/poller/idle-timers.js';
import { signal, split, useScope } from '../helpers.js';

describe('UDP: idle peers', () => {
  const scope = useScope();

  it('closes a peer idle for udpReadTimeout with ERR_NBIO_READ_TIMEOUT', async () => {
    const server = scope.engine({ network: 'udp', addrs: ['127.0.0.1:0'], udpReadTimeout: 100 });
    const opened = signal<Conn>();
    const closed = signal<{ conn: Conn; err: unknown }>();
    server.onOpen((conn) => opened.resolve(conn));
    server.onClose((conn, err) => closed.resolve({ conn, err }));
    await server.start();
    const client = await scope.udp();
    client.send('hello', split(server.addrs[0]).port, '127.0.0.1');
    const conn = await opened.promise;
    const { conn: gone, err } = await closed.promise;
    expect(gone).toBe(conn);
    expect(err).toMatchObject({ code: 'ERR_NBIO_READ_TIMEOUT' });
    expect(server.connCount).toBe(0);
  });

  it('has no time-out by default', async () => {
    const server = scope.engine({ network: 'udp', addrs: ['127.0.0.1:0'] });
    let closes = 0;
    const opened = signal<Conn>();
    server.onOpen((conn) => opened.resolve(conn));
    server.onClose(() => closes++);
    await server.start();
    const client = await scope.udp();
    client.send('hello', split(server.addrs[0]).port, '127.0.0.1');
    await opened.promise;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(closes).toBe(0);
    expect(server.connCount).toBe(1);
  });
});

describe('IdleTimers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires a key only once it was idle for the whole time-out', () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const timers = new IdleTimers<string>(1000, (key) => expired.push(key));
    timers.start('active');
    timers.start('idle');
    for (let t = 0; t < 5; t++) {
      vi.advanceTimersByTime(600);
      timers.touch('active');
    }
    expect(expired).toEqual(['idle']);
    vi.advanceTimersByTime(999);
    expect(expired).toEqual(['idle']);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['idle', 'active']);
    timers.start('cleared');
    timers.clear('cleared');
    timers.touch('cleared'); // a key not timed is not timed by a touch either
    vi.advanceTimersByTime(5000);
    expect(expired).toEqual(['idle', 'active']);
  });
});
