// A peer that ends its side while a plugin serves the connection: the
// plugin world has no end event, so the engine sends what the plugin
// queued, then closes (reason peer to the plugin, to onClose `err` undefined and `closeReason` peer); the
// application's own onEnd still hears it.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readBytes, signal, useScope } from '../helpers.js';
import { examplePlugin } from './plugin-fixtures.js';

const MiB = 1024 * 1024;

describe('plugins and half-close', () => {
  const scope = useScope();

  it('echoes every byte a peer sent before its FIN, then closes; onEnd and onClose are still called', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: examplePlugin('echo') } });
    const ended = signal<void>();
    const closed = signal<unknown>();
    server.onEnd(() => ended.resolve());
    server.onClose((conn, err) => closed.resolve({ err, reason: conn.closeReason }));
    await server.start();

    const socket = await scope.connect(server.addrs[0], { allowHalfOpen: true });
    const sent = randomBytes(4 * MiB);
    const echoed = readBytes(socket, sent.length);
    const finished = new Promise<void>((resolve) => socket.once('end', resolve));
    socket.end(sent);

    expect((await echoed).equals(sent)).toBe(true);
    await finished;
    await ended.promise;
    expect(await closed.promise).toEqual({ err: undefined, reason: 'peer' });
    expect(server.pluginStats!.failures).toBe(0);
  });
});
