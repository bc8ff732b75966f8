// The native shim's socket calls: listening and connecting (TCP over IPv4
// and IPv6, Unix, UDP), addresses, socket options, shutdown and close.
// Conventions in native-shim-fixtures.ts.
import { beforeEach, describe, expect, it } from 'vitest';
import { EPOLL, ERRNO, LISTEN, SOCKOPT, native } from '../../host/sys/native.js';
import { closeFd, closeTrackedAfterEach, dec, enc, scratch, sockAddr, tcpPair, track, waitFor } from './native-shim-fixtures.js';

closeTrackedAfterEach();

function v6Available(): boolean {
  const fd = native.listen(6, '::1', 0, 1, LISTEN.V6ONLY);
  if (fd < 0) return false;
  native.close(fd);
  return true;
}
const hasV6 = v6Available();

// --- socket calls ---------------------------------------------------------------------------------------

describe('sockets', () => {
  it('reports -ECONNREFUSED through socketError after a refused connect', () => {
    const lfd = native.listen(4, '127.0.0.1', 0, 1, 0);
    expect(lfd).toBeGreaterThanOrEqual(0);
    const { port } = sockAddr(native.getsockname(lfd));
    expect(native.close(lfd)).toBe(0); // nothing listens on `port` now

    const fd = track(native.connect(4, '127.0.0.1', port));
    const ev = waitFor(fd, EPOLL.OUT);
    expect(ev & EPOLL.OUT).toBeTruthy();
    expect(ev & (EPOLL.ERR | EPOLL.HUP)).toBeTruthy();
    expect(native.socketError(fd)).toBe(-ERRNO.ECONNREFUSED);
    expect(native.socketError(fd)).toBe(0); // SO_ERROR is cleared by reading it
    expect(native.socketError(1_000_000)).toBe(-ERRNO.EBADF);
  });

  it('getsockname / getpeername over IPv4', () => {
    const { lfd, cfd, sfd, port } = tcpPair();
    expect(native.getsockname(lfd)).toEqual({ family: 4, address: '127.0.0.1', port });
    expect(native.getpeername(cfd)).toEqual({ family: 4, address: '127.0.0.1', port });
    expect(native.getsockname(sfd)).toEqual({ family: 4, address: '127.0.0.1', port });
    const local = sockAddr(native.getsockname(cfd));
    expect(local.family).toBe(4);
    expect(local.port).toBeGreaterThan(0);
    expect(native.getpeername(sfd)).toEqual(local);
    expect(native.getpeername(lfd)).toBe(-ERRNO.ENOTCONN);
    expect(native.getsockname(1_000_000)).toBe(-ERRNO.EBADF);
  });

  describe('IPv6 (::1 bindable)', () => {
    beforeEach((ctx) => {
      if (!hasV6) ctx.skip('::1 cannot be bound here (no IPv6 loopback)');
    });

    it('getsockname / getpeername over IPv6', () => {
      const { lfd, cfd, sfd, port } = tcpPair(6);
      expect(native.getsockname(lfd)).toEqual({ family: 6, address: '::1', port });
      expect(native.getpeername(cfd)).toEqual({ family: 6, address: '::1', port });
      const local = sockAddr(native.getsockname(cfd));
      expect(local.family).toBe(6);
      expect(native.getpeername(sfd)).toEqual(local);
    });

    it('v6only = 0 accepts IPv4 clients as v4-mapped addresses', () => {
      const lfd = track(native.listen(6, '::', 0, 4, 0));
      const { port } = sockAddr(native.getsockname(lfd));
      const cfd = track(native.connect(4, '127.0.0.1', port));
      waitFor(lfd, EPOLL.IN);
      const sfd = track(native.accept(lfd));
      const peer = sockAddr(native.getpeername(sfd));
      expect(peer.family).toBe(6);
      expect(peer.address).toBe('::ffff:127.0.0.1');
      expect(peer.port).toBe(sockAddr(native.getsockname(cfd)).port);
    });
  });

  it('validates families, addresses and ports without DNS', () => {
    expect(native.listen(4, 'localhost', 0, 1, 0)).toBe(-ERRNO.EINVAL);
    expect(native.listen(4, '::1', 0, 1, 0)).toBe(-ERRNO.EINVAL);
    expect(native.listen(6, '127.0.0.1', 0, 1, 0)).toBe(-ERRNO.EINVAL);
    expect(native.listen(4, '127.0.0.1', 65_536, 1, 0)).toBe(-ERRNO.EINVAL);
    expect(native.listen(4, '127.0.0.1', -1, 1, 0)).toBe(-ERRNO.EINVAL);
    expect(native.listen(4, '127.0.0.1' + ' '.repeat(100), 0, 1, 0)).toBe(-ERRNO.EINVAL);
    expect(native.listen(5 as 4, '127.0.0.1', 0, 1, 0)).toBe(-ERRNO.EAFNOSUPPORT);
    expect(native.connect(4, 'example.com', 80)).toBe(-ERRNO.EINVAL);
    expect(native.connect(6, '::1%lo', 80)).toBe(-ERRNO.EINVAL);
    const anyNative = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => anyNative.listen(4, 127, 0, 1, 0)).toThrow(TypeError);

    const lfd = track(native.listen(4, '127.0.0.1', 0, 1, 0));
    const { port } = sockAddr(native.getsockname(lfd));
    expect(native.listen(4, '127.0.0.1', port, 1, 0)).toBe(-ERRNO.EADDRINUSE);
  });

  it('listen: SO_REUSEPORT lets two sockets share a port, and only then', () => {
    const first = track(native.listen(4, '127.0.0.1', 0, 4, LISTEN.REUSEPORT));
    const { port } = sockAddr(native.getsockname(first));
    expect(native.listen(4, '127.0.0.1', port, 4, 0)).toBe(-ERRNO.EADDRINUSE);
    const second = track(native.listen(4, '127.0.0.1', port, 4, LISTEN.REUSEPORT));
    expect(second).toBeGreaterThan(0);
    expect(sockAddr(native.getsockname(second)).port).toBe(port);
  });

  it('setNoDelay, shutdown, setLinger reset, close', () => {
    const { cfd, sfd } = tcpPair();
    expect(native.setNoDelay(cfd, 1)).toBe(0);
    expect(native.setNoDelay(cfd, 0)).toBe(0);
    expect(native.setNoDelay(1_000_000, 1)).toBe(-ERRNO.EBADF);
    expect(native.shutdown(1_000_000, 2)).toBe(-ERRNO.EBADF);

    // Half-close: the peer reads end-of-stream, and can still write back.
    expect(native.shutdown(cfd, 1)).toBe(0);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, scratch, 0, 8)).toBe(0);
    expect(native.write(sfd, enc.encode('bye'), 0, 3)).toBe(3);
    waitFor(cfd, EPOLL.IN);
    expect(native.read(cfd, scratch, 0, 8)).toBe(3);

    // SO_LINGER {1, 0}: close sends a reset.
    const p = tcpPair();
    expect(native.setLinger(p.cfd, 1, 0)).toBe(0);
    closeFd(p.cfd);
    expect(waitFor(p.sfd, EPOLL.IN) & (EPOLL.HUP | EPOLL.ERR)).toBeTruthy();
    expect(native.read(p.sfd, scratch, 0, 8)).toBe(-ERRNO.ECONNRESET);
    expect([-ERRNO.EPIPE, -ERRNO.ECONNRESET]).toContain(native.write(p.sfd, scratch, 0, 8));

    expect(native.close(1_000_000)).toBe(-ERRNO.EBADF);
  });
});

describe('socket options', () => {
  const { SOL_SOCKET, IPPROTO_TCP } = SOCKOPT;

  it('keep-alive: SO_KEEPALIVE and TCP_KEEPIDLE set with setSockOpt are what getSockOpt reads', () => {
    const { sfd } = tcpPair();
    expect(native.getSockOpt(sfd, SOL_SOCKET, SOCKOPT.SO_KEEPALIVE)).toBe(0);
    expect(native.setSockOpt(sfd, SOL_SOCKET, SOCKOPT.SO_KEEPALIVE, 1)).toBe(0);
    expect(native.setSockOpt(sfd, IPPROTO_TCP, SOCKOPT.TCP_KEEPIDLE, 7)).toBe(0);
    expect(native.getSockOpt(sfd, SOL_SOCKET, SOCKOPT.SO_KEEPALIVE)).toBe(1);
    expect(native.getSockOpt(sfd, IPPROTO_TCP, SOCKOPT.TCP_KEEPIDLE)).toBe(7);
    expect(native.setSockOpt(sfd, IPPROTO_TCP, SOCKOPT.TCP_KEEPIDLE, 0)).toBe(-ERRNO.EINVAL);
    expect(native.getSockOpt(1_000_000, SOL_SOCKET, SOCKOPT.SO_KEEPALIVE)).toBe(-ERRNO.EBADF);
  });

  it('SO_LINGER reads as its seconds, or -1 when off; buffer sizes as the kernel keeps them', () => {
    const { sfd } = tcpPair();
    expect(native.getSockOpt(sfd, SOL_SOCKET, SOCKOPT.SO_LINGER)).toBe(-1);
    expect(native.setLinger(sfd, 1, 3)).toBe(0);
    expect(native.getSockOpt(sfd, SOL_SOCKET, SOCKOPT.SO_LINGER)).toBe(3);
    expect(native.setSockOpt(sfd, SOL_SOCKET, SOCKOPT.SO_RCVBUF, 65536)).toBe(0);
    expect(native.getSockOpt(sfd, SOL_SOCKET, SOCKOPT.SO_RCVBUF)).toBe(2 * 65536); // Linux doubles it
    expect(native.setSockOpt(sfd, IPPROTO_TCP, SOCKOPT.TCP_NODELAY, 1)).toBe(0);
    expect(native.getSockOpt(sfd, IPPROTO_TCP, SOCKOPT.TCP_NODELAY)).toBe(1);
  });

  it('dup gives a second descriptor for the same socket, close-on-exec', () => {
    const { cfd, sfd } = tcpPair();
    const copy = track(native.dup(cfd));
    expect(copy).not.toBe(cfd);
    closeFd(cfd); // the connection lives on through the copy
    expect(native.write(copy, enc.encode('dup'), 0, 3)).toBe(3);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, scratch, 0, 8)).toBe(3);
    expect(native.dup(1_000_000)).toBe(-ERRNO.EBADF);
  });
});

describe('Unix and UDP sockets', () => {
  it('listenUnix / connectUnix on an abstract name; addresses as paths', () => {
    const name = `@nbio-shim-${process.pid}`;
    const lfd = track(native.listenUnix(name, 4));
    expect(native.listenUnix(name, 4)).toBe(-ERRNO.EADDRINUSE);
    expect(sockAddr(native.getsockname(lfd))).toEqual({ family: 1, address: name, port: 0 });
    const cfd = track(native.connectUnix(name));
    const sfd = track(native.accept(lfd));
    expect(sockAddr(native.getpeername(cfd))).toEqual({ family: 1, address: name, port: 0 });
    expect(sockAddr(native.getpeername(sfd))).toEqual({ family: 1, address: '', port: 0 });
    expect(native.connectUnix(`@nbio-shim-none-${process.pid}`)).toBe(-ERRNO.ECONNREFUSED);
    expect(native.connectUnix('/nonexistent/nbio.sock')).toBe(-ERRNO.ENOENT);
    expect(native.listenUnix('/x'.repeat(60), 4)).toBe(-ERRNO.ENAMETOOLONG);
    expect(native.listenUnix('', 4)).toBe(-ERRNO.EINVAL);
    expect(native.setNoDelay(cfd, 1)).toBe(-ERRNO.EOPNOTSUPP);
  });

  it('udpSocket, sendTo and recvFrom: one datagram each, its source, its full size (MSG_TRUNC)', () => {
    const server = track(native.udpSocket(4, '127.0.0.1', 0, 0, 0));
    const { port } = sockAddr(native.getsockname(server));
    const client = track(native.udpSocket(4, '127.0.0.1', port, 0, 1));
    const mem = new Uint8Array(4096);
    mem.set(enc.encode('hello datagram'), 0);
    expect(native.sendTo(client, mem, 0, 14, 0, 0)).toBe(14);
    waitFor(server, EPOLL.IN);
    // Only 5 bytes asked for: the rest of the datagram is cut, its size still told.
    expect(native.recvFrom(server, mem, 100, 5, 200)).toBe(14);
    expect(dec.decode(mem.subarray(100, 105))).toBe('hello');
    const view = new DataView(mem.buffer);
    const sourceLen = view.getUint32(200, true);
    expect(sourceLen).toBe(16); // a sockaddr_in
    expect(view.getUint16(204, true)).toBe(2); // AF_INET
    expect(view.getUint16(206, false)).toBe(sockAddr(native.getsockname(client)).port);
    // Reply to that source, as the reactor does for a peer.
    expect(native.sendTo(server, mem, 100, 5, 204, sourceLen)).toBe(5);
    waitFor(client, EPOLL.IN);
    expect(native.recvFrom(client, mem, 300, 64, 400)).toBe(5);
    expect(dec.decode(mem.subarray(300, 305))).toBe('hello');
    expect(native.recvFrom(client, mem, 300, 64, 400)).toBe(-ERRNO.EAGAIN);
    expect(native.sendTo(client, mem, 0, 70_000, 0, 0)).toBe(-ERRNO.EFAULT); // outside the buffer
    expect(native.sendTo(client, new Uint8Array(70_000), 0, 70_000, 0, 0)).toBe(-ERRNO.EMSGSIZE);
    expect(native.recvFrom(server, mem, 0, 8, 4090)).toBe(-ERRNO.EFAULT); // no room for the source
  });
});
