// Socket options: the engine's keepAlive options on every connection, the
// per-connection setters (read back with getsockopt), and the default
// listen backlog (the system's somaxconn, as Go uses).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { SOCKOPT, native } from '../../host/sys/native.js';
import { signal, split, useScope } from '../helpers.js';

const { SOL_SOCKET, IPPROTO_TCP } = SOCKOPT;
/** The descriptor of a connection (the low bits of its handle). */
const fdOf = (conn: Conn) => conn.handle & 0xfffff;

/** The accept queue length of the listener on `port`, as ss shows it (Send-Q). */
function backlogOf(port: number): number {
  const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
  return Number(line.split(/\s+/)[2]);
}

describe('socket options', () => {
  const scope = useScope();

  async function accepted(options: Parameters<typeof scope.engine>[0] = {}): Promise<Conn> {
    const server = scope.engine({ addrs: ['127.0.0.1:0'], ...options });
    const opened = signal<Conn>();
    server.onOpen((conn) => opened.resolve(conn));
    await server.start();
    await scope.connect(server.addrs[0]);
    return opened.promise;
  }

  it('keepAlive and keepAliveInitialDelay apply to every accepted connection', async () => {
    const conn = await accepted({ keepAlive: true, keepAliveInitialDelay: 5000 });
    expect(native.getSockOpt(fdOf(conn), SOL_SOCKET, SOCKOPT.SO_KEEPALIVE)).toBe(1);
    expect(native.getSockOpt(fdOf(conn), IPPROTO_TCP, SOCKOPT.TCP_KEEPIDLE)).toBe(5);
  });

  it('keep-alive is off by default, and TCP_NODELAY on', async () => {
    const conn = await accepted();
    expect(native.getSockOpt(fdOf(conn), SOL_SOCKET, SOCKOPT.SO_KEEPALIVE)).toBe(0);
    expect(native.getSockOpt(fdOf(conn), IPPROTO_TCP, SOCKOPT.TCP_NODELAY)).toBe(1);
  });

  it('the setters of a connection reach its socket', async () => {
    const conn = await accepted();
    const fd = fdOf(conn);
    expect(conn.setNoDelay(false)).toBe(conn);
    expect(native.getSockOpt(fd, IPPROTO_TCP, SOCKOPT.TCP_NODELAY)).toBe(0);
    conn.setNoDelay();
    expect(native.getSockOpt(fd, IPPROTO_TCP, SOCKOPT.TCP_NODELAY)).toBe(1);
    conn.setKeepAlive(true, 1500);
    expect(native.getSockOpt(fd, SOL_SOCKET, SOCKOPT.SO_KEEPALIVE)).toBe(1);
    expect(native.getSockOpt(fd, IPPROTO_TCP, SOCKOPT.TCP_KEEPIDLE)).toBe(2); // whole seconds, rounded up
    conn.setKeepAlive(false);
    expect(native.getSockOpt(fd, SOL_SOCKET, SOCKOPT.SO_KEEPALIVE)).toBe(0);
    conn.setLinger(4);
    expect(native.getSockOpt(fd, SOL_SOCKET, SOCKOPT.SO_LINGER)).toBe(4);
    conn.setLinger(null);
    expect(native.getSockOpt(fd, SOL_SOCKET, SOCKOPT.SO_LINGER)).toBe(-1);
    conn.setReadBufferSize(32768).setWriteBufferSize(32768);
    expect(native.getSockOpt(fd, SOL_SOCKET, SOCKOPT.SO_RCVBUF)).toBe(65536);
    expect(native.getSockOpt(fd, SOL_SOCKET, SOCKOPT.SO_SNDBUF)).toBe(65536);
    expect(() => conn.setReadBufferSize(-1)).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_ARG' }));
    expect(() => conn.setNoDelay('yes' as never)).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_ARG' }));
  });

  it('setLinger(0): closing resets the connection', async () => {
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onData((conn) => conn.setLinger(0).close());
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.write('close now');
    const error = await new Promise<unknown>((resolve) => {
      socket.once('error', resolve);
      socket.once('end', () => resolve(undefined));
    });
    expect(error).toMatchObject({ code: 'ECONNRESET' });
  });

  it('listens with the system backlog (somaxconn) by default, or the one given', async () => {
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    const byDefault = scope.engine({ addrs: ['127.0.0.1:0'] });
    await byDefault.start();
    expect(backlogOf(split(byDefault.addrs[0]).port)).toBe(somaxconn);
    const given = scope.engine({ addrs: ['127.0.0.1:0'], backlog: 100 });
    await given.start();
    expect(backlogOf(split(given.addrs[0]).port)).toBe(100);
  });
});
