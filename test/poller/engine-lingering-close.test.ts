// Graceful closes lose no bytes, either way, over loopback with Node's
// own sockets as peers: `end()` and a graceful `stop()` send everything,
// then the FIN, and read on (delivering what the peer still sends) until
// the peer ends too; closing with input left unread would make Linux
// reset the connection, dropping what it had not sent yet. A peer that
// never ends is closed once `lingerTimeout` passes (timers faked there, so
// no test waits for real time); with `setLinger(0)` an end still closes
// at once, a reset; a plugin's `end` goes the same way.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import type { Conn } from '../../host/index.js';
import { examplePlugin } from '../plugin/plugin-fixtures.js';
import { openDescriptors, readBytes, signal, useScope } from '../helpers.js';

const MiB = 1024 * 1024;

/** How the socket's stream ended: 'end' (a FIN), or the code of its error (ECONNRESET…). */
function outcome(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Sockets among the descriptors this process has open. */
const sockets = () => openDescriptors().filter((d) => d.startsWith('socket:')).length;

describe('lingering close', () => {
  const scope = useScope();

  it.each([1, 16, 64])('end() after %i MiB while the peer keeps sending: every byte reaches the peer, then a clean end; the peer\'s bytes reach onData', async (mib) => {
    const payload = randomBytes(mib * MiB);
    let got = 0;
    const closed = signal<Error | undefined>();
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => {
      conn.write(payload);
      conn.end();
    });
    server.onData((_conn, data) => (got += data.length));
    server.onClose((_conn, err) => closed.resolve(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    let sent = 0;
    // A few bytes back for every chunk that arrives, until the end (then it ends too).
    socket.on('data', () => {
      socket.write('more');
      sent += 4;
    });
    const ended = outcome(socket);
    let lingering = -1;
    socket.once('end', () => (lingering = server.connCount)); // its FIN came; this side has not ended yet
    const received = await readBytes(socket, payload.length);
    expect(received.equals(payload)).toBe(true);
    expect(await ended).toBe('end');
    expect(lingering).toBe(1);
    expect(await closed.promise).toBeUndefined();
    expect(got).toBe(sent);
  });

  it('a graceful stop() of 100 connections whose peers keep sending: every byte both ways, clean ends', async () => {
    const payload = randomBytes(256 * 1024);
    const count = 100;
    let got = 0;
    const allOpen = signal();
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    let opened = 0;
    server.onOpen((conn) => {
      conn.write(payload);
      if (++opened === count) allOpen.resolve();
    });
    server.onData((_conn, data) => (got += data.length));
    await server.start();
    const peers = await Promise.all(Array.from({ length: count }, () => scope.connect(server.addrs[0])));
    let sent = 0;
    const results = peers.map((socket) => {
      socket.on('data', () => {
      socket.write('more');
      sent += 4;
    });
      return Promise.all([readBytes(socket, payload.length), outcome(socket)]);
    });
    await allOpen.promise;
    await server.stop({ graceful: true, timeout: 60_000 });
    for (const [received, how] of await Promise.all(results)) {
      expect(received.equals(payload)).toBe(true);
      expect(how).toBe('end');
    }
    expect(got).toBe(sent);
  });

  it('a peer that never ends lingers, counted and still heard, until lingerTimeout; then it closes without a reset and its descriptor is freed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const server = scope.engine({ addrs: ['127.0.0.1:0'], lingerTimeout: 2000 });
      const opened = signal<Conn>();
      const heard = signal<string>();
      const closed = signal<Error | undefined>();
      server.onOpen((conn) => opened.resolve(conn));
      server.onData((_conn, data) => heard.resolve(Buffer.from(data).toString()));
      server.onClose((_conn, err) => closed.resolve(err));
      await server.start();
      const idle = sockets();
      const socket = await scope.connect(server.addrs[0], { allowHalfOpen: true }); // never ends its side
      const errors: Error[] = [];
      socket.on('error', (err) => errors.push(err));
      const conn = await opened.promise;
      expect(sockets()).toBe(idle + 2);
      conn.write('bye');
      conn.end();
      const [bye] = await Promise.all([readBytes(socket, 3), once(socket, 'end')]);
      expect(bye.toString()).toBe('bye');
      socket.write('still here');
      expect(await heard.promise).toBe('still here');
      expect(server.connCount).toBe(1);
      expect(server.stats().connections).toBe(1);
      vi.advanceTimersByTime(2000);
      expect(await closed.promise).toBeUndefined();
      expect(server.connCount).toBe(0);
      expect(sockets()).toBe(idle + 1); // the peer's socket is all that is left
      expect(errors).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('setLinger(0) still resets at once: end() does not linger', async () => {
    const closed = signal<Error | undefined>();
    const server = scope.engine({ addrs: ['127.0.0.1:0'], lingerTimeout: 600_000 });
    server.onData((conn) => {
      conn.setLinger(0);
      conn.write('x');
      conn.end();
    });
    server.onClose((_conn, err) => closed.resolve(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0], { allowHalfOpen: true }); // never ends its side
    socket.on('error', () => {}); // the reset
    socket.write('go');
    // Closed at once (a reset, SO_LINGER 0), not after the 10 minutes of lingerTimeout.
    expect(await closed.promise).toBeUndefined();
    expect(server.connCount).toBe(0);
  });

  it('a plugin\'s end while the peer still sends: the whole response, then a clean end', async () => {
    const body = randomBytes(2 * MiB);
    const server = scope.engine({
      addrs: ['127.0.0.1:0'],
      plugin: { module: examplePlugin('http-hello'), config: body, maxMemory: 64 * MiB },
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const response = readBytes(socket, head.length + body.length);
    const ended = outcome(socket);
    // "Connection: close": the plugin ends the connection after its response, while the peer still sends.
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    socket.on('data', () => socket.write('more'));
    expect((await response).equals(Buffer.concat([Buffer.from(head), body]))).toBe(true);
    expect(await ended).toBe('end');
  });
});
