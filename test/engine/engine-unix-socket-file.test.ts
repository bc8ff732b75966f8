// The socket file of a Unix listener: removed by stop(), a stale one (its
// server died) replaced, a live one (a server accepts there) refused with
// EADDRINUSE, and nothing but a socket file is ever removed.
import { existsSync, lstatSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../../host/sys/native.js';
import { readBytes, useScope } from '../helpers.js';

describe('Unix sockets: the socket file', () => {
  const scope = useScope();

  it('is created by start() and removed by stop()', async () => {
    const path = join(scope.tempDir(), 's.sock');
    const server = await scope.echoServer({ network: 'unix', addrs: [path] });
    expect(lstatSync(path).isSocket()).toBe(true);
    await server.stop();
    expect(existsSync(path)).toBe(false);
  });

  it('replaces a stale file left by a server that died', async () => {
    const path = join(scope.tempDir(), 'stale.sock');
    const dead = native.listenUnix(path, 1);
    expect(dead).toBeGreaterThanOrEqual(0);
    native.close(dead); // the file stays, nobody accepts there
    expect(native.connectUnix(path)).toBe(-111); // ECONNREFUSED
    const server = await scope.echoServer({ network: 'unix', addrs: [path] });
    const socket = await scope.connect(server.addrs[0]);
    socket.write('fresh');
    expect((await readBytes(socket, 5)).toString()).toBe('fresh');
  });

  it('refuses with EADDRINUSE where a server listens, which keeps serving', async () => {
    const path = join(scope.tempDir(), 'live.sock');
    const first = await scope.echoServer({ network: 'unix', addrs: [path] });
    const second = scope.engine({ network: 'unix', addrs: [path] });
    await expect(second.start()).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'listen' });
    const socket = await scope.connect(first.addrs[0]);
    socket.write('still');
    expect((await readBytes(socket, 5)).toString()).toBe('still');
  });

  it('refuses with EADDRINUSE a path that is not a socket, and leaves that file alone', async () => {
    const path = join(scope.tempDir(), 'data.txt');
    writeFileSync(path, 'keep me');
    await expect(scope.engine({ network: 'unix', addrs: [path] }).start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(lstatSync(path).isFile()).toBe(true);
  });

  it('leaves a file another server bound at the same path since', async () => {
    const path = join(scope.tempDir(), 'moved.sock');
    const first = await scope.echoServer({ network: 'unix', addrs: [path] });
    unlinkSync(path);
    const second = await scope.echoServer({ network: 'unix', addrs: [path] });
    await first.stop();
    expect(lstatSync(path).isSocket()).toBe(true); // the second server's
    const socket = await scope.connect(second.addrs[0]);
    socket.write('second');
    expect((await readBytes(socket, 6)).toString()).toBe('second');
  });
});
