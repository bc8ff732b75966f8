// The in-memory kernel (kernel/fake.ts) as a lowered `sys` the reactor can be
// instantiated with.
import { ListLayout, ReadyLayout } from '../../../host/generated/abi.js';
import { READ_RESULT, WAIT_RESULT, type GuestMemory } from '../../../host/guest/memory.js';
import type { LoweredSys } from '../../../host/guest/reactor.js';

const ENOMEM = 12;

/** One readiness report of `epoll-wait` (WIT `ready`). */
export interface Ready {
  /** The token given to `epoll-ctl` for the descriptor. */
  token: number;
  /** EPOLL* bits. */
  events: number;
}

/** WIT `wait-result`: the ready reports, or a negated errno. */
export type WaitResult = { tag: 'ready'; val: Ready[] } | { tag: 'error'; val: number };

/** WIT `read-result`: the bytes read (empty: end of stream), or a negated errno. */
export type ReadResult = { tag: 'data'; val: Uint8Array } | { tag: 'error'; val: number };

/** WIT `recv-result`: one datagram, with its sender's address and full size, or a negated errno. */
export type RecvResult =
  | { tag: 'datagram'; val: { data: Uint8Array; source: Uint8Array; fullSize: number } }
  | { tag: 'error'; val: number };

/**
 * The `sys` interface (wit/nbio-engine.wit) in the form a `jco transpile`d
 * component imports it: camelCase names, JS numbers and booleans, lists as
 * `Uint8Array`s and arrays, variants as `{ tag, val }`. Contracts are the
 * WIT's: a result < 0 is a negated errno, and errnos are returned, never
 * thrown.
 *
 * Byte lists passed in (`write`, `writev`) belong to the callee: they are
 * copies, as jco makes them. Arrays returned (`read`, `epoll-wait`) are only
 * read by the caller, never kept.
 *
 * jco destructures the import object, so an implementation must not rely
 * on `this` (bind its methods, or use arrow functions).
 */
export interface HighLevelSys {
  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number, token: number): number;
  epollWait(epfd: number, maxEvents: number, timeoutMs: number): WaitResult;
  accept(fd: number): number;
  read(fd: number, maxLen: number): ReadResult;
  write(fd: number, data: Uint8Array): number;
  writev(fd: number, chunks: Uint8Array[]): number;
  sendFile(fd: number, fileFd: number, offset: bigint, count: number): number;
  close(fd: number): number;
  socketError(fd: number): number;
  setNoDelay(fd: number, on: boolean): number;
  shutdown(fd: number, how: number): number;
  recvFrom(fd: number, maxLen: number): RecvResult;
  sendTo(fd: number, data: Uint8Array, destination: Uint8Array): number;
}

/**
 * Adapts a high-level `sys` to the lowered (canonical-ABI) functions the
 * fast path instantiates the reactor's core module with (see
 * {@link LoweredSys}), doing what jco's glue does for the same imports:
 *
 * - `write`: the `len` bytes at `ptr` are copied out of reactor memory;
 * - `writev`: `count` records of {u32 ptr, u32 len} at `ptr`, each copied;
 * - `send-to`: the datagram and the address are copied out;
 * - `recv-from`: the data, then the address, are placed where
 *   `cabi_realloc` says, then the 24-byte variant is stored at `ret`
 *   ({@link GuestMemory.storeDatagramResult});
 * - `read`, `epoll-wait`: the list is placed where `cabi_realloc` says
 *   ({@link GuestMemory.alloc}; for `epoll-wait` 8-byte {token, events}
 *   records, align 4), then the 12-byte variant is stored at `ret`
 *   ({@link GuestMemory.storeListResult}); -ENOMEM if the reactor had no
 *   memory for the list;
 * - bools arrive as 0/1; u32 parameters arrive as i32 and are passed on
 *   unsigned.
 *
 * `mem` must be attached (instantiateReactor does that) before the first
 * call. Nothing is cached across calls, so memory growth is harmless.
 */
export function lowerSys(sys: HighLevelSys, mem: GuestMemory): LoweredSys {
  const bytesAt = (ptr: number, len: number): Uint8Array => {
    mem.sync();
    return mem.u8.slice(ptr >>> 0, (ptr >>> 0) + (len >>> 0));
  };
  return {
    'epoll-create': () => sys.epollCreate(),
    'epoll-ctl': (epfd, op, fd, events, token) => sys.epollCtl(epfd, op, fd, events >>> 0, token >>> 0),
    'epoll-wait': (epfd, maxEvents, timeoutMs, ret) => {
      const r = sys.epollWait(epfd, maxEvents >>> 0, timeoutMs);
      if (r.tag === 'error') {
        mem.storeListResult(ret, WAIT_RESULT, 0, r.val);
        return;
      }
      const list = mem.alloc(ReadyLayout.align, r.val.length * ReadyLayout.size);
      if (list === 0 && r.val.length > 0) return mem.storeListResult(ret, WAIT_RESULT, 0, -ENOMEM);
      const i32 = mem.i32;
      for (let i = 0; i < r.val.length; i++) {
        const at = list + i * ReadyLayout.size;
        i32[(at + ReadyLayout.token) >>> 2] = r.val[i].token;
        i32[(at + ReadyLayout.events) >>> 2] = r.val[i].events;
      }
      mem.storeListResult(ret, WAIT_RESULT, list, r.val.length);
    },
    accept: (fd) => sys.accept(fd),
    read: (fd, maxLen, ret) => {
      const r = sys.read(fd, maxLen >>> 0);
      if (r.tag === 'error') {
        mem.storeListResult(ret, READ_RESULT, 0, r.val);
        return;
      }
      const list = mem.alloc(1, r.val.length);
      if (list === 0 && r.val.length > 0) return mem.storeListResult(ret, READ_RESULT, 0, -ENOMEM);
      mem.u8.set(r.val, list);
      mem.storeListResult(ret, READ_RESULT, list, r.val.length);
    },
    write: (fd, ptr, len) => sys.write(fd, bytesAt(ptr, len)),
    writev: (fd, ptr, count) => {
      mem.sync();
      const i32 = mem.i32;
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < count >>> 0; i++) {
        const rec = (ptr >>> 0) + i * ListLayout.size;
        chunks.push(bytesAt(i32[(rec + ListLayout.ptr) >>> 2], i32[(rec + ListLayout.len) >>> 2]));
      }
      return sys.writev(fd, chunks);
    },
    close: (fd) => sys.close(fd),
    'socket-error': (fd) => sys.socketError(fd),
    'set-no-delay': (fd, on) => sys.setNoDelay(fd, on !== 0),
    shutdown: (fd, how) => sys.shutdown(fd, how),
    'recv-from': (fd, maxLen, ret) => {
      const r = sys.recvFrom(fd, maxLen >>> 0);
      if (r.tag === 'error') {
        mem.sync();
        mem.storeDatagramResult(ret, 0, 0, 0, 0, r.val);
        return;
      }
      const { data, source, fullSize } = r.val;
      const dataAt = mem.alloc(1, data.length);
      mem.u8.set(data, dataAt);
      const sourceAt = mem.alloc(1, source.length);
      mem.u8.set(source, sourceAt);
      mem.storeDatagramResult(ret, dataAt, data.length, sourceAt, source.length, fullSize);
    },
    'send-to': (fd, ptr, len, addrPtr, addrLen) => sys.sendTo(fd, bytesAt(ptr, len), bytesAt(addrPtr, addrLen)),
    'send-file': (fd, fileFd, offset, count) => sys.sendFile(fd, fileFd, offset, count >>> 0),
  };
}
