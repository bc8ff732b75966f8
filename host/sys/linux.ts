import type { GuestMemory } from '../guest-memory.js';
import { native } from '../native.js';
import type { LoweredSys } from '../reactor.js';

/**
 * The `sys` interface on Linux: each function is one native shim call that
 * reads or writes the reactor's memory in place (no copies, no allocation).
 * Byte lists the reactor receives (`read`, `epoll-wait`) are placed where
 * its `cabi_realloc` says, before the syscall fills them.
 */
export function linuxSys(mem: GuestMemory): LoweredSys {
  return {
    'epoll-create': () => native.epollCreate(),
    'epoll-ctl': (epfd, op, fd, events, token) => native.epollCtl(epfd, op, fd, events >>> 0, token >>> 0),
    'epoll-wait': (epfd, maxEvents, timeoutMs, ret) => {
      const list = mem.alloc(4, maxEvents * 8);
      const n = native.epollWait(epfd, mem.buffer, list, maxEvents, timeoutMs);
      mem.storeListResult(ret, list, n);
    },
    accept: (fd) => native.accept(fd),
    read: (fd, maxLen, ret) => {
      const list = mem.alloc(1, maxLen);
      const n = native.read(fd, mem.buffer, list, maxLen);
      mem.storeListResult(ret, list, n);
    },
    write: (fd, ptr, len) => {
      mem.sync();
      return native.write(fd, mem.buffer, ptr, len);
    },
    writev: (fd, ptr, count) => {
      mem.sync();
      return native.writev(fd, mem.buffer, ptr, count);
    },
    close: (fd) => native.close(fd),
    'socket-error': (fd) => native.socketError(fd),
    'set-no-delay': (fd, on) => native.setNoDelay(fd, on),
    shutdown: (fd, how) => native.shutdown(fd, how),
    'recv-from': (fd, maxLen, ret) => {
      // The data first: it takes the landing zone the reactor armed.
      const data = mem.alloc(1, maxLen);
      const source = mem.alloc(4, SOURCE_AREA);
      const size = native.recvFrom(fd, mem.buffer, data, maxLen, source);
      mem.storeDatagramResult(ret, data, Math.min(size, maxLen), source + 4, mem.u32At(source), size);
    },
    'send-to': (fd, ptr, len, addrPtr, addrLen) => {
      mem.sync();
      return native.sendTo(fd, mem.buffer, ptr, len, addrPtr, addrLen);
    },
  };
}

/** What `recvFrom` writes at its source offset: a u32 length and at most 28 address bytes. */
const SOURCE_AREA = 32;
