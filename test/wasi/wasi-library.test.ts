// The WASI library component (world reactor-wasi: engine + net over
// wasi:*) driven by a JavaScript host under jco's preview2-shim, in its own
// process: the same engine calls as the Node host makes, with descriptors
// from net.listen and net.dial instead of the kernel's.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBytes, split } from '../helpers.js';
import { Command, root } from './commands.js';

const script = `${root}/test/wasi/library-echo.mjs`;

describe('the WASI library component under jco', () => {
  const running: Command[] = [];
  const sockets: net.Socket[] = [];
  const servers: net.Server[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(running.splice(0).map((c) => c.stop()));
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('listens by address, accepts and echoes through engine.run-once and engine.write', async () => {
    const host = new Command([process.execPath, script], true);
    running.push(host);
    const [, address] = await host.line(/^listening (127\.0\.0\.1:\d+)$/);
    const { port } = split(address);
    const socket = net.connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    const data = randomBytes(1 << 20);
    const back = readBytes(socket, data.length);
    socket.write(data);
    expect((await back).equals(data)).toBe(true);
    socket.end();
    await host.line(/^closed 1$/);
  });

  it('dials by address with net.dial and engine.add-conn', async () => {
    const received: Buffer[] = [];
    const got = new Promise<void>((resolve) => {
      const server = net.createServer((s) => s.on('data', (d) => {
        received.push(d);
        if (Buffer.concat(received).length >= 5) resolve();
      }));
      servers.push(server);
      server.listen(0, '127.0.0.1', () => {
        const host = new Command([process.execPath, script, `127.0.0.1:${(server.address() as net.AddressInfo).port}`], true);
        running.push(host);
      });
    });
    await got;
    expect(Buffer.concat(received).toString()).toBe('hello');
  });
});
