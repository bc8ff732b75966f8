// Relative read time-outs (`conn.setReadTimeout(ms)`, counted from the last
// read, as net.Socket#setTimeout counts), and durations passed where a
// deadline (a point in time) belongs, which are refused instead of closing
// the connection at once.
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { signal, useScope } from '../helpers.js';

describe('read time-outs', () => {
  const scope = useScope();

  it('closes a connection with ERR_NBIO_READ_TIMEOUT once nothing was read for ms, each read starting the count again', async () => {
    const TIMEOUT_MS = 1000;
    const PINGS = 12;
    let reads = 0;
    let lastRead = 0;
    const closed = signal<{ err: Error | undefined; reads: number; quietFor: number; reason: string | undefined }>();
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    engine.onOpen((conn) => {
      expect(conn.setReadTimeout(TIMEOUT_MS)).toBe(conn);
    });
    engine.onData(() => {
      reads++;
      lastRead = Date.now();
    });
    engine.onClose((conn, err) => closed.resolve({ err, reads, quietFor: Date.now() - lastRead, reason: conn.closeReason }));
    await engine.start();
    const socket = await scope.connect(engine.addrs[0]);
    // Pings a tenth of the time-out apart, for longer than the time-out: each read extends it.
    for (let i = 0; i < PINGS; i++) {
      socket.write('.');
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS / 10));
    }
    const { err, reads: readsBeforeClose, quietFor, reason } = await closed.promise;
    expect(err).toMatchObject({ code: 'ERR_NBIO_READ_TIMEOUT' });
    expect(reason).toBe('timeout');
    expect(readsBeforeClose).toBeGreaterThan(0);
    expect(readsBeforeClose).toBeLessThanOrEqual(PINGS);
    expect(quietFor).toBeGreaterThanOrEqual(TIMEOUT_MS - 5); // counted from the last read, not from the call
  });

  it('turns the read time-out off with 0, and refuses what is not a whole number of ms', async () => {
    const errors: unknown[] = [];
    const opened = signal<Conn>();
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    engine.onOpen((conn) => {
      conn.setReadTimeout(50).setReadTimeout(0);
      for (const bad of [-1, 1.5, Number.NaN, '100']) {
        try {
          conn.setReadTimeout(bad as never);
        } catch (err) {
          errors.push(err);
        }
      }
      opened.resolve(conn);
    });
    await engine.start();
    await scope.connect(engine.addrs[0]);
    const conn = await opened.promise;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(conn.closed).toBe(false);
    expect(errors).toHaveLength(4);
    for (const err of errors) expect(err).toMatchObject({ code: 'ERR_NBIO_INVALID_ARG' });
  });

  it('refuses a duration passed as a deadline, saying so, and leaves the connection open', async () => {
    const errors: Error[] = [];
    const opened = signal<Conn>();
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    engine.onOpen((conn) => {
      const attempts = [() => conn.setReadDeadline(5000), () => conn.setWriteDeadline(new Date(30_000)), () => conn.setDeadline(Date.now() / 1000)];
      for (const attempt of attempts) {
        try {
          attempt();
        } catch (err) {
          errors.push(err as Error);
        }
      }
      conn.setReadDeadline(Date.now() - 1); // a time just past is a deadline: it closes at once
      opened.resolve(conn);
    });
    const closed = signal<Error | undefined>();
    engine.onClose((_conn, err) => closed.resolve(err));
    await engine.start();
    await scope.connect(engine.addrs[0]);
    await opened.promise;
    expect(errors).toHaveLength(3);
    for (const err of errors) expect(err).toMatchObject({ code: 'ERR_NBIO_INVALID_ARG' });
    expect(errors[0].message).toContain('setReadDeadline(5000) is a point in time, not a duration');
    expect(errors[0].message).toContain('setReadTimeout(ms)');
    expect(errors[1].message).toMatch(/^setWriteDeadline\(1970-01-01T00:00:30\.000Z\) is a point in time/);
    expect(errors[2].message).toMatch(/^setDeadline\(\d+(\.\d+)?\) is a point in time/); // the method called, not the one it sets
    expect(await closed.promise).toMatchObject({ code: 'ERR_NBIO_READ_TIMEOUT' });
  });

  it('takes both calls on a worker poller\'s stand-in: the time-out closes the connection there', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    let serverCloses = 0;
    const bothClosed = signal();
    server.onClose(() => {
      if (++serverCloses === 2) bothClosed.resolve();
    });
    await server.start();
    const client = scope.engine({ pollers: 2, handlers: new URL('../fixtures/echo.mjs', import.meta.url) });
    await client.start();
    const conns = [await client.dial('tcp', server.addrs[0]), await client.dial('tcp', server.addrs[0])]; // one per poller
    for (const conn of conns) {
      expect(() => conn.setReadDeadline(5000)).toThrow(/not a duration/);
      conn.setReadTimeout(100);
    }
    await bothClosed.promise; // nothing else closes them: each timed out, in its own poller
  });
});
