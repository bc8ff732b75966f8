// Two pollers (this thread's and a worker's) serving and stopping, handlers as
// functions or from a module, and an invalid handlers module.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../host/index.js';
import { readBytes, useScope } from '../helpers.js';

const threadEcho = new URL('../fixtures/thread-echo.mjs', import.meta.url);

describe('pollers', () => {
  const scope = useScope();

  it('serves connections on two pollers (main thread and a worker), then stops them all', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers: threadEcho });
    await engine.start();
    const sockets = await Promise.all(Array.from({ length: 40 }, () => scope.connect(engine.addrs[0])));
    const replies = await Promise.all(
      sockets.map((socket, i) => {
        const reply = readBytes(socket, 5 + `m${i}`.length);
        socket.write(`m${i}`);
        return reply.then(String);
      }),
    );
    replies.forEach((reply, i) => expect(reply.slice(5)).toBe(`m${i}`));
    const tags = new Set(replies.map((reply) => reply.slice(0, 5)));
    expect(tags).toEqual(new Set(['main:', 'work:']));
    const closed = sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve)));
    await engine.stop();
    await Promise.all(closed);
  });

  it('takes handlers either as functions or from a module', async () => {
    expect(() => new Engine({ pollers: 2, addrs: ['127.0.0.1:0'] })).toThrow(
      expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION', message: expect.stringMatching(/needs a handlers module/) }),
    );
    expect(() => new Engine({ handlers: threadEcho, onData: () => {} })).toThrow(
      expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION', message: expect.stringMatching(/not both/) }),
    );
    expect(() => new Engine({ handlers: 'relative/handlers.mjs' })).toThrow(
      expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION', message: expect.stringMatching(/absolute module path or a URL/) }),
    );
    expect(() => new Engine({ handlers: threadEcho }).onClose(() => {})).toThrow(
      expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION', message: expect.stringMatching(/cannot be set/) }),
    );
    expect(() => new Engine({ pollers: 0 })).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
  });

  it('fails start() when the handlers module is invalid, leaving nothing open', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers: new URL('../fixtures/bad-handlers.mjs', import.meta.url) });
    const fdsBefore = readdirSync('/proc/self/fd').length;
    await expect(engine.start()).rejects.toMatchObject({
      code: 'ERR_NBIO_INVALID_OPTION',
      message: expect.stringMatching(/onData of .* must be a function/),
    });
    expect(readdirSync('/proc/self/fd').length).toBe(fdsBefore);
    await engine.stop();
  });
});
