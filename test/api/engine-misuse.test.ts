// Misuses that must fail loudly, with a stable code, instead of silently
// doing something else: stale data views (also when the engine hands out
// a view again for the same bytes), unknown dial options and handler
// module exports, an address of the wrong IP version for the network.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../host/index.js';
import { readBytes, signal, useScope } from '../helpers.js';

describe('misuse', () => {
  const scope = useScope();

  /**
   * Serves a handler that keeps the first message's view (after writing
   * `echo(data)`) and, on the second message, writes the kept view, then
   * its own data. Resolves with both echoes, what writing the kept view
   * did, and whether the second view lay on the same bytes as the kept one.
   */
  async function writeKeptOnNext(first: string, second: string, echo: (data: Uint8Array) => Uint8Array) {
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    let kept: Uint8Array | undefined;
    const outcome = signal<{ error: unknown; sameBytes: boolean }>();
    server.onData((conn, data) => {
      if (kept === undefined) {
        kept = data;
        conn.write(echo(data));
        return;
      }
      const sameBytes = data.byteOffset === kept.byteOffset && data.byteLength === kept.byteLength;
      try {
        conn.write(kept);
        outcome.resolve({ error: 'written', sameBytes });
      } catch (error) {
        outcome.resolve({ error, sameBytes });
      }
      conn.write(data);
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.write(first);
    const firstEcho = (await readBytes(socket, echo(Buffer.from(first)).length)).toString();
    socket.write(second);
    const { error, sameBytes } = await outcome.promise;
    const secondEcho = (await readBytes(socket, second.length)).toString();
    return { firstEcho, secondEcho, error, sameBytes };
  }

  it('refuses to write a data view kept after its onData returned, and keeps serving', async () => {
    // A view on the data being delivered is fine to write.
    const r = await writeKeptOnNext('first', 'second', (data) => data.subarray(0, 3));
    expect(r.firstEcho).toBe('fir');
    expect(r.error).toMatchObject({ code: 'ERR_NBIO_STALE_VIEW' });
    expect(r.secondEcho).toBe('second');
  });

  it('refuses a kept data view when the next message lands at the same address with the same length', async () => {
    // Each message is the only read of its batch: same address, same length.
    const r = await writeKeptOnNext('aaaa', 'bbbb', (data) => data);
    expect(r.sameBytes).toBe(true);
    expect(r.error).toMatchObject({ code: 'ERR_NBIO_STALE_VIEW' });
    expect([r.firstEcho, r.secondEcho]).toEqual(['aaaa', 'bbbb']);
  });

  it('refuses a kept data view written from outside any handler', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const got = signal<{ conn: import('../../host/index.js').Conn; data: Uint8Array }>();
    server.onData((conn, data) => got.resolve({ conn, data }));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.write('later');
    const { conn, data } = await got.promise;
    expect(() => conn.write(data)).toThrow(expect.objectContaining({ code: 'ERR_NBIO_STALE_VIEW' }));
    expect(() => conn.writev(['ok', data.subarray(1)])).toThrow(expect.objectContaining({ code: 'ERR_NBIO_STALE_VIEW' }));
  });

  it('rejects unknown dial options and a dial address of the wrong IP version', async () => {
    const engine = scope.engine();
    await engine.start();
    await expect(engine.dial('tcp', '127.0.0.1:9', { timeot: 5 } as never)).rejects.toMatchObject({
      code: 'ERR_NBIO_INVALID_OPTION',
      message: expect.stringMatching(/unknown dial option "timeot"/),
    });
    await expect(engine.dial('tcp4', '[::1]:9')).rejects.toMatchObject({ code: 'ERR_NBIO_INVALID_ADDRESS' });
    await expect(engine.dial('tcp6', '127.0.0.1:9')).rejects.toMatchObject({ code: 'ERR_NBIO_INVALID_ADDRESS' });
  });

  it('rejects an IPv6 listen address on tcp4 (and IPv4 on tcp6) at construction', () => {
    expect(() => new Engine({ network: 'tcp4', addrs: ['[::1]:0'] })).toThrow(
      expect.objectContaining({ code: 'ERR_NBIO_INVALID_ADDRESS', message: expect.stringMatching(/IPv6 address cannot be used with network tcp4/) }),
    );
    expect(() => new Engine({ network: 'tcp6', addrs: ['127.0.0.1:0'] })).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_ADDRESS' }));
  });

  it('refuses a handlers module that exports anything but handlers', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], handlers: new URL('../fixtures/extra-export-handlers.mjs', import.meta.url) });
    await expect(engine.start()).rejects.toMatchObject({
      code: 'ERR_NBIO_INVALID_OPTION',
      message: expect.stringMatching(/exports "maxWriteBufferSize", which is not a handler/),
    });
  });
});
