import type { GuestMemory } from '../guest-memory.js';
import { ERRNO, native } from '../native.js';
import type { LoweredSys } from '../reactor.js';

/**
 * The `sys` interface on Linux: each function is one native shim call that
 * reads or writes the reactor's memory in place (no copies, no allocation).
 * Byte lists the reactor receives (`read`, `epoll-wait`) are placed where
 * its `cabi_realloc` says, before the syscall fills them (or, if it has no
 * memory for them, the call fails with -ENOMEM).
 */
export function linuxSys(mem: GuestMemory): LoweredSys {
  return {
    'epoll-create': () => native.epollCreate(),
    'epoll-ctl': (epfd, op, fd, events, token) => native.epollCtl(epfd, op, fd, events >>> 0, token >>> 0),
    'epoll-wait': (epfd, maxEvents, timeoutMs, ret) => {
      const list = mem.alloc(4, maxEvents * 8);
      mem.storeListResult(ret, list, list === 0 ? -ERRNO.ENOMEM : native.epollWait(epfd, mem.buffer, list, maxEvents, timeoutMs));
    },
    accept: (fd) => native.accept(fd),
    read: (fd, maxLen, ret) => {
      const list = mem.alloc(1, maxLen);
      mem.storeListResult(ret, list, list === 0 ? -ERRNO.ENOMEM : native.read(fd, mem.buffer, list, maxLen));
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
  };
}
