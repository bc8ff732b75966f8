// Read and write deadlines: a connection idle past its read deadline, or with
// bytes queued past its write deadline, closes with the matching error.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { signal, useScope } from '../helpers.js';

describe('deadlines', () => {
  const scope = useScope();

  /** A server whose connections are handed to `onOpen`; closes are collected by connection. */
  async function server(onOpen: (conn: Conn) => void) {
    const closes = new Map<Conn, Error | undefined>();
    const closed: ((conn: Conn) => void)[] = [];
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    engine.onOpen(onOpen);
    engine.onClose((conn, err) => {
      closes.set(conn, err);
      for (const f of closed) f(conn);
    });
    await engine.start();
    const nextClose = () => new Promise<Conn>((resolve) => closed.push(resolve));
    return { engine, closes, nextClose };
  }

  /** A server with two open connections, in the order they opened. */
  async function twoConnections() {
    const opened: Conn[] = [];
    const both = signal();
    const s = await server((conn) => {
      opened.push(conn);
      if (opened.length === 2) both.resolve();
    });
    await scope.connect(s.engine.addrs[0]);
    await scope.connect(s.engine.addrs[0]);
    await both.promise;
    return { ...s, conns: opened };
  }

  it('closes an idle connection with ERR_NBIO_READ_TIMEOUT when its read deadline passes', async () => {
    const { engine, closes, nextClose } = await server((conn) => conn.setReadDeadline(Date.now() + 100));
    const closing = nextClose();
    const socket = await scope.connect(engine.addrs[0]);
    const ended = new Promise((resolve) => socket.once('end', resolve));
    socket.resume();
    const conn = await closing;
    expect(closes.get(conn)).toMatchObject({ code: 'ERR_NBIO_READ_TIMEOUT' });
    await ended;
  });

  it('a cleared deadline never fires', async () => {
    const { closes, nextClose, conns } = await twoConnections();
    const [cleared, sentinel] = conns;
    cleared.setReadDeadline(new Date(Date.now() + 50));
    cleared.setReadDeadline(undefined);
    sentinel.setDeadline(Date.now() + 300);
    expect(await nextClose()).toBe(sentinel);
    expect(closes.get(sentinel)).toMatchObject({ code: 'ERR_NBIO_READ_TIMEOUT' });
    expect(cleared.closed).toBe(false);
  });

  it('closes with ERR_NBIO_WRITE_TIMEOUT when written bytes are still queued at the write deadline', async () => {
    const { engine, closes, nextClose } = await server((conn) => {
      conn.write(randomBytes(8 * 1024 * 1024));
      conn.setWriteDeadline(Date.now() + 100);
    });
    const closing = nextClose();
    const socket = await scope.connect(engine.addrs[0]);
    socket.pause();
    const conn = await closing;
    expect(closes.get(conn)).toMatchObject({ code: 'ERR_NBIO_WRITE_TIMEOUT' });
  });

  it('a write deadline does nothing once everything written was sent', async () => {
    const { engine, closes, nextClose } = await server((conn) => {
      conn.write('small');
      conn.setWriteDeadline(Date.now() + 50);
      conn.setReadDeadline(Date.now() + 300);
    });
    const closing = nextClose();
    const socket = await scope.connect(engine.addrs[0]);
    socket.resume();
    const conn = await closing;
    expect(closes.get(conn)).toMatchObject({ code: 'ERR_NBIO_READ_TIMEOUT' });
  });

  it("keeps a connection open until a deadline beyond setTimeout's range", async () => {
    const { closes, nextClose, conns } = await twoConnections();
    const [far, near] = conns;
    far.setReadDeadline(Date.now() + 40 * 24 * 3600 * 1000); // 40 days: beyond 2^31 ms
    near.setReadDeadline(Date.now() + 100);
    expect(await nextClose()).toBe(near);
    expect(closes.get(near)).toMatchObject({ code: 'ERR_NBIO_READ_TIMEOUT' });
    expect(far.closed).toBe(false);
  });

  it('rejects a deadline that is not a time', async () => {
    const errors: unknown[] = [];
    const opened = signal();
    const { engine } = await server((conn) => {
      for (const bad of ['soon', Infinity, Number.NaN]) {
        try {
          conn.setReadDeadline(bad as never);
        } catch (err) {
          errors.push(err);
        }
      }
      opened.resolve();
    });
    await scope.connect(engine.addrs[0]);
    await opened.promise;
    expect(errors).toHaveLength(3);
    for (const err of errors) expect(err).toMatchObject({ code: 'ERR_NBIO_INVALID_ARG' });
  });
});
