// A connection paused and never resumed whose peer then resets it: the
// reactor parks it (out of the epoll set) and tells the host, which closes
// it once `pausedHangUpTimeout` passes, so it does not keep its descriptor
// until stop(): for a handler's pause, and for a plugin's (here, one that
// waits for a plugin instance being re-created).
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { hostilePlugin } from '../plugin/hostile-fixtures.js';
import { signal, useScope } from '../helpers.js';

/** Resolves with what `promise` resolves with, or rejects after `ms` saying that `what` did not happen. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Resets the connection from the peer's side (RST) and waits until its socket closed. */
async function reset(socket: net.Socket): Promise<void> {
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.resetAndDestroy();
  });
}

describe('pausedHangUpTimeout', () => {
  const scope = useScope();

  it('closes a connection a handler paused once its peer reset it and the time-out passed', async () => {
    const closed = signal<{ err: Error | undefined; reason: string | undefined }>();
    const server = scope.engine({ addrs: ['127.0.0.1:0'], pausedHangUpTimeout: 200 });
    server.onData((conn) => conn.pause()); // and never resumed
    server.onClose((conn: Conn, err) => closed.resolve({ err, reason: conn.closeReason }));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.write('then silence');
    while (server.connCount === 0) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the data arrived and paused it
    await reset(socket);
    const { err, reason } = await within(closed.promise, 10_000, 'onClose of the paused connection');
    expect(err).toMatchObject({ code: 'ERR_NBIO_PAUSED_TIMEOUT' });
    expect(reason).toBe('timeout');
    expect(server.connCount).toBe(0);
    expect(server.stats().closedBy).toEqual({ ERR_NBIO_PAUSED_TIMEOUT: 1 });
  });

  it('delivers everything and the reset as usual when the handler resumes in time', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], pausedHangUpTimeout: 60_000 });
    const closed = signal<Error | undefined>();
    let paused: Conn | undefined;
    let got = '';
    server.onData((conn, data) => {
      got += Buffer.from(data).toString();
      if (paused === undefined) {
        paused = conn;
        conn.pause();
      }
    });
    server.onClose((_conn, err) => closed.resolve(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.write('first');
    while (paused === undefined) await new Promise((resolve) => setImmediate(resolve));
    socket.write(' second');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await reset(socket);
    await new Promise((resolve) => setTimeout(resolve, 100)); // parked by now
    paused.resume();
    expect(await within(closed.promise, 10_000, 'onClose after resume()')).toMatchObject({ code: 'ECONNRESET' });
    expect(got).toBe('first second');
  });

  it('closes a connection a plugin keeps paused (waiting for an instance) once its peer reset it', async () => {
    const errors: string[] = [];
    const closes: (string | undefined)[] = [];
    const secondClosed = signal();
    const server = scope.engine({
      addrs: ['127.0.0.1:0'],
      pausedHangUpTimeout: 200,
      // Traps on every connection, and is re-created only a minute later: connections wait, paused, meanwhile.
      plugin: { module: await hostilePlugin('trap-open', { PAGES: 8, TOUCH: 0, TABLES: '' }), restartDelay: 60_000 },
    });
    server.onPluginError((err) => errors.push(err.code));
    server.onClose((_conn, err) => {
      closes.push(err?.code);
      if (closes.length === 2) secondClosed.resolve();
    });
    await server.start();
    const first = await scope.connect(server.addrs[0]);
    while (errors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(server.pluginStats?.state).toBe('restarting');
    const waiting = await scope.connect(server.addrs[0]);
    while (server.connCount < 1 || closes.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the waiting connection is open, paused
    await reset(waiting);
    await within(secondClosed.promise, 10_000, 'onClose of the connection waiting for the plugin');
    expect(closes).toEqual(['ERR_NBIO_PLUGIN_TRAP', 'ERR_NBIO_PAUSED_TIMEOUT']);
    expect(server.connCount).toBe(0);
    first.destroy();
  });
});
