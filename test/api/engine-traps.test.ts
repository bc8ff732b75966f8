// What a user coming from node:net gets wrong first, refused with a message
// that says what to do instead of being ignored: a callback or an encoding
// given to write(), a handler set twice, start() again after it failed, a
// plugin option given as a path, a network name in capitals, an IPv6
// address on an IPv4 network.
import { describe, expect, it } from 'vitest';
import { Engine, type Conn } from '../../host/index.js';
import { readBytes, signal, useScope } from '../helpers.js';

describe('traps refused', () => {
  const scope = useScope();

  it('refuses a second argument to write() and writev(), saying why, and keeps the connection open', async () => {
    const errors: Error[] = [];
    const opened = signal<Conn>();
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    engine.onOpen((conn) => {
      const attempts = [
        () => (conn.write as (...args: unknown[]) => void)('a', () => {}),
        () => (conn.write as (...args: unknown[]) => void)('6869', 'hex'),
        () => (conn.writev as (...args: unknown[]) => void)(['a'], () => {}),
      ];
      for (const attempt of attempts) {
        try {
          attempt();
        } catch (err) {
          errors.push(err as Error);
        }
      }
      conn.write('ok');
      opened.resolve(conn);
    });
    await engine.start();
    const socket = await scope.connect(engine.addrs[0]);
    const conn = await opened.promise;
    expect((await readBytes(socket, 2)).toString()).toBe('ok'); // nothing of the refused writes was sent
    expect(conn.closed).toBe(false);
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['ERR_NBIO_INVALID_ARG', 'ERR_NBIO_INVALID_ARG', 'ERR_NBIO_INVALID_ARG']);
    expect(errors[0].message).toMatch(/takes one argument.*a callback.*onDrain/);
    expect(errors[1].message).toMatch(/an encoding \('hex'\).*Buffer\.from\(s, 'hex'\)/);
  });

  it('refuses a handler set twice, by a call or an option, and keeps the first', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], onClose: () => {} });
    engine.onData((conn, data) => conn.write(data));
    expect(() => engine.onData(() => {})).toThrow(expect.objectContaining({
      code: 'ERR_NBIO_INVALID_OPTION', message: expect.stringMatching(/^onData is already set: an engine has one onData for every connection/),
    }));
    expect(() => engine.onClose(() => {})).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
    await engine.start();
    const socket = await scope.connect(engine.addrs[0]);
    socket.write('echo');
    expect((await readBytes(socket, 4)).toString()).toBe('echo'); // the first onData still serves
  });

  it('says why start() is refused after it failed, rather than that the engine was stopped', async () => {
    const first = await scope.echoServer();
    const second = scope.engine({ addrs: [first.addrs[0]] });
    await expect(second.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const again = await second.start().catch((err: Error) => err);
    expect(again).toMatchObject({ code: 'ERR_NBIO_NOT_RUNNING' });
    expect((again as Error).message).toMatch(/^this engine's start\(\) failed \(.*EADDRINUSE.*\), and an engine starts only once: create a new Engine to try again$/);
  });

  it('names { module } when the plugin option is a path', () => {
    expect(() => new Engine({ plugin: './x.wasm' as never })).toThrow(expect.objectContaining({
      code: 'ERR_NBIO_INVALID_OPTION', message: expect.stringContaining('such as { module: "./x.wasm" }'),
    }));
  });

  it('gives an option error for a network in capitals, with the name it means', async () => {
    expect(() => new Engine({ network: 'TCP' as never })).toThrow(expect.objectContaining({
      code: 'ERR_NBIO_INVALID_OPTION', message: expect.stringContaining('network names are lower case: "tcp"'),
    }));
    const engine = scope.engine();
    await engine.start();
    await expect(engine.dial('UDP' as never, '127.0.0.1:9')).rejects.toMatchObject({
      code: 'ERR_NBIO_INVALID_ADDRESS', message: expect.stringContaining('"udp"'),
    });
  });

  it('writes an IPv6 address it refuses on tcp4 as it was given, in brackets', () => {
    expect(() => new Engine({ network: 'tcp4', addrs: ['[::1]:0'] })).toThrow(expect.objectContaining({
      code: 'ERR_NBIO_INVALID_ADDRESS', message: expect.stringContaining('"[::1]:0"'),
    }));
  });
});
