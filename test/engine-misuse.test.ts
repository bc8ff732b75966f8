// Misuses that must fail loudly, with a stable code, instead of silently
// doing something else: stale data views, unknown dial options and handler
// module exports, an address of the wrong IP version for the network.
import { describe, expect, it } from 'vitest';
import { Engine } from '../host/index.js';
import { readBytes, signal, useScope } from './helpers.js';

describe('misuse', () => {
  const scope = useScope();

  it('refuses to write a data view kept after its onData returned, and keeps serving', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    let kept: Uint8Array | undefined;
    const outcome = signal<unknown>();
    server.onData((conn, data) => {
      if (kept === undefined) {
        kept = data;
        conn.write(data.subarray(0, 3)); // a view on the data being delivered: fine
        return;
      }
      try {
        conn.write(kept);
        outcome.resolve('written');
      } catch (err) {
        outcome.resolve(err);
      }
      conn.write(data);
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.write('first');
    expect((await readBytes(socket, 3)).toString()).toBe('fir');
    socket.write('second');
    expect(await outcome.promise).toMatchObject({ code: 'ERR_NBIO_STALE_VIEW' });
    expect((await readBytes(socket, 6)).toString()).toBe('second');
  });

  it('refuses a kept data view written from outside any handler', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const got = signal<{ conn: import('../host/index.js').Conn; data: Uint8Array }>();
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
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], handlers: new URL('./fixtures/extra-export-handlers.mjs', import.meta.url) });
    await expect(engine.start()).rejects.toMatchObject({
      code: 'ERR_NBIO_INVALID_OPTION',
      message: expect.stringMatching(/exports "maxWriteBufferSize", which is not a handler/),
    });
  });
});
