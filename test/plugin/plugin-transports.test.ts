// A plugin serves Unix and UDP connections as it serves TCP ones: on UDP,
// each datagram is one on-data and each write one datagram to that peer.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBytes, split, useScope } from '../helpers.js';
import { examplePlugin } from './plugin-fixtures.js';

describe('plugins over Unix and UDP sockets', () => {
  const scope = useScope();

  it('echoes 1 MiB over a Unix socket', async () => {
    const path = join(scope.tempDir(), 'echo.sock');
    const server = scope.engine({ network: 'unix', addrs: [path], plugin: { module: examplePlugin('echo') } });
    await server.start();
    const socket = await scope.connect(path);
    const sent = randomBytes(1024 * 1024);
    const echoed = readBytes(socket, sent.length);
    socket.write(sent);
    expect((await echoed).equals(sent)).toBe(true);
  });

  it('echoes datagrams to each UDP peer, one datagram per write', async () => {
    const server = scope.engine({ network: 'udp', addrs: ['127.0.0.1:0'], plugin: { module: examplePlugin('echo') } });
    await server.start();
    const { port } = split(server.addrs[0]);
    const peers = [await scope.udp(), await scope.udp()];
    const replies = await Promise.all(peers.map((peer, i) => {
      const sizes = [5 + i, 900, 1];
      const got: number[] = [];
      const done = new Promise<number[]>((resolve) => {
        peer.on('message', (msg) => {
          expect(msg.every((byte) => byte === 65 + i)).toBe(true);
          got.push(msg.length);
          if (got.length === sizes.length) resolve(got);
        });
      });
      for (const size of sizes) peer.send(Buffer.alloc(size, 65 + i), port, '127.0.0.1');
      return done;
    }));
    expect(replies).toEqual([[5, 900, 1], [6, 900, 1]]);
    expect(server.pluginStats).toMatchObject({ failures: 0, connections: 2 });
  });
});
