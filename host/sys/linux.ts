/**
 * The reactor's `sys` interface implemented over Linux through the native
 * shim, reading and writing reactor memory in place.
 */
import { ReadyLayout } from '../generated/abi.js';
import { READ_RESULT, WAIT_RESULT, type GuestMemory } from '../guest/memory.js';
import { ERRNO, native } from './native.js';
import { FdRole, type OwnedFds } from './owned-fds.js';
import type { LoweredSys } from '../guest/reactor.js';

const EBADF = -ERRNO.EBADF;

/**
 * The `sys` interface on Linux: each function is one native shim call that
 * reads or writes the reactor's memory in place (no copies, no allocation).
 * Byte lists the reactor receives (`read`, `epoll-wait`) are placed where
 * its `cabi_realloc` says, before the syscall fills them (or, if it has no
 * memory for them, the call fails with -ENOMEM).
 *
 * Capabilities: every call is checked against `owned`, the descriptors of
 * this reactor instance, before it reaches the kernel. `epoll-wait` only
 * on its epoll instance, `accept` only on its listeners, `read`, `write`,
 * `writev`, `socket-error`, `set-no-delay` and `shutdown` only on its
 * connections, `recv-from` and `send-to` only on its connections and UDP
 * sockets, `epoll-ctl` only on its epoll instance for one of its sockets,
 * `close` on any of them; anything else is answered with -EBADF without
 * touching the descriptor. `send-file` only from a file handed over with
 * `write-file` (role File) to one of its connections. `epoll-create` and `accept` record what they
 * open; `close` forgets the descriptor before closing it. The host records
 * the listeners, UDP sockets and dialed sockets it hands over (see
 * host/poller/poller.ts).
 */
export function linuxSys(mem: GuestMemory, owned: OwnedFds): LoweredSys {
  const roles = owned.roles;
  const conn = (fd: number) => roles[fd] === FdRole.Conn;
  const datagrams = (fd: number) => roles[fd] === FdRole.Conn || roles[fd] === FdRole.Datagram;
  return {
    'epoll-create': () => {
      const fd = native.epollCreate();
      owned.add(fd, FdRole.Epoll);
      return fd;
    },
    'epoll-ctl': (epfd, op, fd, events, token) => {
      const role = roles[fd];
      if (roles[epfd] !== FdRole.Epoll || !(role === FdRole.Conn || role === FdRole.Listener || role === FdRole.Datagram)) {
        return EBADF;
      }
      return native.epollCtl(epfd, op, fd, events >>> 0, token >>> 0);
    },
    'epoll-wait': (epfd, maxEvents, timeoutMs, ret) => {
      if (roles[epfd] !== FdRole.Epoll) return mem.storeListResult(ret, WAIT_RESULT, 0, EBADF);
      // The shim stores `ready` records (test/sys/native-shim-epoll.test.ts holds it to the generated layout).
      const list = mem.alloc(ReadyLayout.align, maxEvents * ReadyLayout.size);
      const n = list === 0 ? -ERRNO.ENOMEM : native.epollWait(epfd, mem.buffer, list, maxEvents, timeoutMs);
      mem.storeListResult(ret, WAIT_RESULT, list, n);
    },
    accept: (fd) => {
      if (roles[fd] !== FdRole.Listener) return EBADF;
      const nfd = native.accept(fd);
      owned.add(nfd, FdRole.Conn);
      return nfd;
    },
    read: (fd, maxLen, ret) => {
      if (!conn(fd)) return mem.storeListResult(ret, READ_RESULT, 0, EBADF);
      const list = mem.alloc(1, maxLen);
      mem.storeListResult(ret, READ_RESULT, list, list === 0 ? -ERRNO.ENOMEM : native.read(fd, mem.buffer, list, maxLen));
    },
    write: (fd, ptr, len) => {
      if (!conn(fd)) return EBADF;
      mem.sync();
      return native.write(fd, mem.buffer, ptr, len);
    },
    writev: (fd, ptr, count) => {
      if (!conn(fd)) return EBADF;
      mem.sync();
      return native.writev(fd, mem.buffer, ptr, count);
    },
    'send-file': (fd, fileFd, offset, count) =>
      conn(fd) && roles[fileFd] === FdRole.File ? native.sendFile(fd, fileFd, Number(offset), count) : EBADF,
    close: (fd) => {
      if (roles[fd] === undefined || roles[fd] === FdRole.None) return EBADF;
      owned.remove(fd);
      return native.close(fd);
    },
    'socket-error': (fd) => (conn(fd) ? native.socketError(fd) : EBADF),
    'set-no-delay': (fd, on) => (conn(fd) ? native.setNoDelay(fd, on) : EBADF),
    shutdown: (fd, how) => (conn(fd) ? native.shutdown(fd, how) : EBADF),
    'recv-from': (fd, maxLen, ret) => {
      if (!datagrams(fd)) return mem.storeDatagramResult(ret, 0, 0, 0, 0, EBADF);
      // The data first: it takes the landing zone the reactor armed.
      const data = mem.alloc(1, maxLen);
      const source = mem.alloc(4, SOURCE_AREA);
      if (data === 0 || source === 0) return mem.storeDatagramResult(ret, 0, 0, 0, 0, -ERRNO.ENOMEM);
      const size = native.recvFrom(fd, mem.buffer, data, maxLen, source);
      mem.storeDatagramResult(ret, data, Math.min(size, maxLen), source + 4, mem.u32At(source), size);
    },
    'send-to': (fd, ptr, len, addrPtr, addrLen) => {
      if (!datagrams(fd)) return EBADF;
      mem.sync();
      return native.sendTo(fd, mem.buffer, ptr, len, addrPtr, addrLen);
    },
  };
}

/** What `recvFrom` writes at its source offset: a u32 length and at most 28 address bytes. */
const SOURCE_AREA = 32;
