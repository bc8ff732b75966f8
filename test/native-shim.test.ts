// Tests of the native shim (host/native/nbio_shim.c) through its typed loader.
// Real syscalls on loopback only, port 0 everywhere; every fd a test opens is
// closed in afterEach (and the close must succeed). No timing assertions:
// waits are event-driven, with a generous safety bound only to fail, not hang.
import { spawn } from 'node:child_process';
import { executionAsyncId } from 'node:async_hooks';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ListLayout, ReadyLayout } from '../host/generated/abi.js';
import { addonPath, EPOLL, ERRNO, LISTEN, SOCKOPT, native, type SockAddr, type WatchHandle } from '../host/native.js';

const SAFETY_MS = 10_000;
const CHILD_TIMEOUT_MS = 30_000;

// --- fd and watcher bookkeeping ------------------------------------------------

const openFds = new Set<number>();
const openWatchers = new Set<WatchHandle>();

/** Asserts `fd` is a descriptor (not -errno) and closes it after the test. */
function track(fd: number): number {
  expect(fd).toBeGreaterThanOrEqual(0);
  openFds.add(fd);
  return fd;
}

function closeFd(fd: number): void {
  openFds.delete(fd);
  expect(native.close(fd)).toBe(0);
}

function watch(epfd: number, cb: () => void): WatchHandle {
  const h = native.watchStart(epfd, cb);
  openWatchers.add(h);
  return h;
}

afterEach(() => {
  for (const h of openWatchers) native.watchStop(h);
  openWatchers.clear();
  const fds = [...openFds];
  openFds.clear();
  for (const fd of fds) expect(native.close(fd), `close(${fd})`).toBe(0);
});

// --- helpers ---------------------------------------------------------------------

const scratch = new ArrayBuffer(64 * 8);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Blocks (up to the safety bound) until `fd` reports one of `events`; returns the reported events. */
function waitFor(fd: number, events: number): number {
  const ep = native.epollCreate();
  expect(ep).toBeGreaterThanOrEqual(0);
  try {
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, fd, events, fd)).toBe(0);
    expect(native.epollWait(ep, scratch, 0, 1, SAFETY_MS)).toBe(1);
    const view = new DataView(scratch);
    expect(view.getUint32(0, true)).toBe(fd);
    return view.getUint32(4, true);
  } finally {
    native.close(ep);
  }
}

function sockAddr(r: SockAddr | number): SockAddr {
  if (typeof r === 'number') throw new Error(`expected an address, got errno ${-r}`);
  return r;
}

interface Pair {
  lfd: number; // listener
  cfd: number; // client side
  sfd: number; // accepted server side
  port: number;
}

/** A connected TCP pair over loopback, built only with the shim. */
function tcpPair(family: 4 | 6 = 4, address = family === 4 ? '127.0.0.1' : '::1'): Pair {
  const lfd = track(native.listen(family, address, 0, 16, LISTEN.V6ONLY));
  const { port } = sockAddr(native.getsockname(lfd));
  expect(port).toBeGreaterThan(0);
  const cfd = track(native.connect(family, address, port));
  expect(waitFor(lfd, EPOLL.IN) & EPOLL.IN).toBeTruthy();
  const sfd = track(native.accept(lfd));
  expect(waitFor(cfd, EPOLL.OUT) & EPOLL.OUT).toBeTruthy();
  expect(native.socketError(cfd)).toBe(0);
  return { lfd, cfd, sfd, port };
}

function v6Available(): boolean {
  const fd = native.listen(6, '::1', 0, 1, LISTEN.V6ONLY);
  if (fd < 0) return false;
  native.close(fd);
  return true;
}
const hasV6 = v6Available();

function withTimeout<T>(p: Promise<T>, label: string, ms = SAFETY_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`safety timeout: ${label}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Lets the event loop run `n` full iterations (each includes an I/O poll phase). */
async function loopTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

// --- epoll -----------------------------------------------------------------------------

describe('epoll', () => {
  it('creates, controls and waits, storing the reactor\'s `ready` records (the layout generated from the WIT)', () => {
    const { cfd, sfd } = tcpPair();
    const ep = track(native.epollCreate());
    const buf = new ArrayBuffer(256);
    const view = new DataView(buf);
    const token = (at: number) => view.getUint32(at + ReadyLayout.token, true);
    const events = (at: number) => view.getUint32(at + ReadyLayout.events, true);

    expect(native.epollCtl(ep, EPOLL.CTL_ADD, sfd, EPOLL.IN, 0xdeadbeef)).toBe(0);
    expect(native.epollWait(ep, buf, 16, 8, 0)).toBe(0); // nothing to read yet

    expect(native.write(cfd, enc.encode('abc'), 0, 3)).toBe(3);
    expect(native.epollWait(ep, buf, 16, 8, SAFETY_MS)).toBe(1);
    expect(token(16)).toBe(0xdeadbeef);
    expect(events(16)).toBe(EPOLL.IN);
    // Two reports are two records, READY_SIZE apart.
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, cfd, EPOLL.OUT, 7)).toBe(0);
    expect(native.epollWait(ep, buf, 16, 8, SAFETY_MS)).toBe(2);
    expect(new Set([token(16), token(16 + ReadyLayout.size)])).toEqual(new Set([7, 0xdeadbeef]));
    expect(native.epollCtl(ep, EPOLL.CTL_DEL, cfd, 0, 0)).toBe(0);

    // MOD to EPOLLOUT with a negative int32 token: taken as uint32.
    expect(native.epollCtl(ep, EPOLL.CTL_MOD, sfd, EPOLL.OUT, -2)).toBe(0);
    expect(native.epollWait(ep, buf, 0, 8, SAFETY_MS)).toBe(1);
    expect(view.getUint32(0, true)).toBe(0xfffffffe);
    expect(view.getUint32(4, true)).toBe(EPOLL.OUT);

    // EPOLLET (high bit, a negative number once OR-ed in JS) is accepted.
    expect(native.epollCtl(ep, EPOLL.CTL_MOD, sfd, EPOLL.IN | EPOLL.RDHUP | EPOLL.ET, 5)).toBe(0);
    expect(native.epollWait(ep, buf, 0, 8, SAFETY_MS)).toBe(1); // 3 bytes still unread
    expect(view.getUint32(0, true)).toBe(5);
    expect(view.getUint32(4, true)).toBe(EPOLL.IN);
    expect(native.epollWait(ep, buf, 0, 8, 0)).toBe(0); // edge-triggered: reported once

    // errno results
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, sfd, EPOLL.IN, 1)).toBe(-ERRNO.EEXIST);
    expect(native.epollCtl(ep, EPOLL.CTL_DEL, sfd, 0, 0)).toBe(0);
    expect(native.epollCtl(ep, EPOLL.CTL_DEL, sfd, 0, 0)).toBe(-ERRNO.ENOENT);
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, 1_000_000, EPOLL.IN, 0)).toBe(-ERRNO.EBADF);
    expect(native.epollCtl(-1, EPOLL.CTL_ADD, sfd, EPOLL.IN, 0)).toBe(-ERRNO.EBADF);
    expect(native.epollWait(sfd, buf, 0, 8, 0)).toBe(-ERRNO.EINVAL); // not an epoll fd
    expect(native.epollWait(ep, buf, 0, 0, 0)).toBe(-ERRNO.EINVAL);
  });

  it('reports several ready fds, honours maxEvents, writes through views, bounds-checks', () => {
    const a = tcpPair();
    const b = tcpPair();
    const ep = track(native.epollCreate());
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, a.sfd, EPOLL.IN, 1)).toBe(0);
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, b.sfd, EPOLL.IN, 2)).toBe(0);
    expect(native.write(a.cfd, enc.encode('x'), 0, 1)).toBe(1);
    expect(native.write(b.cfd, enc.encode('y'), 0, 1)).toBe(1);
    waitFor(a.sfd, EPOLL.IN);
    waitFor(b.sfd, EPOLL.IN);

    const ab = new ArrayBuffer(64);
    expect(native.epollWait(ep, ab, 0, 2, 0)).toBe(2);
    const dv = new DataView(ab);
    expect([dv.getUint32(0, true), dv.getUint32(8, true)].sort()).toEqual([1, 2]);

    expect(native.epollWait(ep, ab, 0, 1, 0)).toBe(1); // level-triggered, one per call

    // A view: offset relative to the view, bounds are the view's.
    const u32 = new Uint32Array(ab, 16, 4); // 16 bytes = room for 2 records
    u32.fill(0);
    expect(native.epollWait(ep, u32, 8, 1, 0)).toBe(1);
    expect([1, 2]).toContain(dv.getUint32(24, true));
    expect(native.epollWait(ep, u32, 8, 2, 0)).toBe(-ERRNO.EFAULT); // 8 + 16 > 16
    expect(native.epollWait(ep, ab, 64 - 15, 2, 0)).toBe(-ERRNO.EFAULT);
    expect(native.epollWait(ep, ab, 65, 0 + 1, 0)).toBe(-ERRNO.EFAULT);
    expect(native.epollWait(ep, ab, 64 - 16, 2, 0)).toBe(2); // exactly fits

    // maxEvents above 1024 is clamped, so only 1024 records must fit.
    const big = new ArrayBuffer(1024 * 8);
    expect(native.epollWait(ep, big, 0, 5000, 0)).toBe(2);
    expect(native.epollWait(ep, big, 8, 5000, 0)).toBe(-ERRNO.EFAULT);
  });
});

// --- read / write ----------------------------------------------------------------------------

describe('read and write', () => {
  it('moves bytes between WebAssembly memory offsets over a TCP pair', () => {
    const { cfd, sfd } = tcpPair();
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const bytes = new Uint8Array(mem.buffer);
    bytes.set(enc.encode('hello nbio'), 1000);

    expect(native.write(cfd, mem.buffer, 1000, 10)).toBe(10);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, mem.buffer, 40_000, 100)).toBe(10);
    expect(dec.decode(bytes.subarray(40_000, 40_010))).toBe('hello nbio');

    // The last bytes of memory are in range.
    bytes.set(enc.encode('tail'), 65_536 - 4);
    expect(native.write(cfd, mem.buffer, 65_536 - 4, 4)).toBe(4);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, mem.buffer, 65_536 - 4, 4)).toBe(4);
    expect(dec.decode(bytes.subarray(65_536 - 4))).toBe('tail');

    // Zero-length operations are fine.
    expect(native.write(cfd, mem.buffer, 65_536, 0)).toBe(0);
  });

  it('accepts views with offsets relative to the view (Uint8Array, Buffer, DataView, Float64Array)', () => {
    const { cfd, sfd } = tcpPair();
    const ab = new ArrayBuffer(256);
    const whole = new Uint8Array(ab);

    const src = new Uint8Array(ab, 100, 20);
    src.set(enc.encode('0123456789'), 5);
    expect(native.write(cfd, src, 5, 10)).toBe(10);
    waitFor(sfd, EPOLL.IN);
    const dst = new DataView(ab, 200, 16);
    expect(native.read(sfd, dst, 3, 10)).toBe(10);
    expect(dec.decode(whole.subarray(203, 213))).toBe('0123456789');

    expect(native.write(cfd, Buffer.from('buf!'), 0, 4)).toBe(4);
    waitFor(sfd, EPOLL.IN);
    const f64 = new Float64Array(ab, 8, 2); // 16 bytes at ab[8..24)
    expect(native.read(sfd, f64, 12, 4)).toBe(4);
    expect(dec.decode(whole.subarray(20, 24))).toBe('buf!');
    expect(native.read(sfd, f64, 12, 5)).toBe(-ERRNO.EFAULT); // 17 > 16 bytes of view
  });

  it('returns -EAGAIN when nothing is there to read or accept', () => {
    const { lfd, sfd } = tcpPair();
    expect(native.read(sfd, scratch, 0, 16)).toBe(-ERRNO.EAGAIN);
    expect(native.accept(lfd)).toBe(-ERRNO.EAGAIN);
  });

  it('returns -EFAULT for out-of-bounds ranges without touching the socket', () => {
    const { cfd, sfd } = tcpPair();
    const ab = new ArrayBuffer(64);
    expect(native.write(cfd, enc.encode('z'), 0, 1)).toBe(1);
    waitFor(sfd, EPOLL.IN);

    expect(native.read(sfd, ab, 60, 5)).toBe(-ERRNO.EFAULT); // one past the end
    expect(native.read(sfd, ab, 65, 0)).toBe(-ERRNO.EFAULT); // offset past the end
    expect(native.read(sfd, ab, -1, 1)).toBe(-ERRNO.EFAULT); // -1 reads as 2^32 - 1
    expect(native.read(sfd, ab, 0, -1)).toBe(-ERRNO.EFAULT);
    expect(native.read(sfd, ab, 0xffffffff, 2)).toBe(-ERRNO.EFAULT); // no u32 wrap-around
    expect(native.read(sfd, new Uint8Array(ab, 0, 16), 10, 7)).toBe(-ERRNO.EFAULT);
    expect(native.write(cfd, ab, 0, 65)).toBe(-ERRNO.EFAULT);

    // The byte is still there: no syscall was made.
    expect(native.read(sfd, ab, 60, 4)).toBe(1);
    expect(new Uint8Array(ab)[60]).toBe('z'.charCodeAt(0));
  });

  it('returns -EFAULT for a detached buffer (old memory.buffer after grow, transferred buffer)', () => {
    const { cfd, sfd } = tcpPair();
    const ep = track(native.epollCreate());
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const old = mem.buffer;
    const oldView = new Uint8Array(old, 8, 8);
    new Uint8Array(old).set(enc.encode('data'), 0);
    expect(native.write(cfd, old, 0, 4)).toBe(4);
    waitFor(sfd, EPOLL.IN);

    expect(mem.grow(1)).toBe(1);
    expect(old.byteLength).toBe(0); // detached
    expect(native.read(sfd, old, 0, 1)).toBe(-ERRNO.EFAULT);
    expect(native.read(sfd, old, 0, 0)).toBe(-ERRNO.EFAULT);
    expect(native.read(sfd, oldView, 0, 1)).toBe(-ERRNO.EFAULT);
    expect(native.write(cfd, old, 0, 0)).toBe(-ERRNO.EFAULT);
    expect(native.writev(cfd, old, 0, 0)).toBe(-ERRNO.EFAULT);
    expect(native.epollWait(ep, old, 0, 1, 0)).toBe(-ERRNO.EFAULT);

    // The fresh buffer works, and the data was not consumed.
    expect(native.read(sfd, mem.buffer, 70_000, 16)).toBe(4);
    expect(dec.decode(new Uint8Array(mem.buffer, 70_000, 4))).toBe('data');

    const moved = new ArrayBuffer(16);
    structuredClone(moved, { transfer: [moved] });
    expect(moved.byteLength).toBe(0);
    expect(native.read(sfd, moved, 0, 1)).toBe(-ERRNO.EFAULT);
  });

  it('throws TypeError for non-buffers and non-numbers; accepts a view over a SharedArrayBuffer', () => {
    const { cfd, sfd } = tcpPair();
    const anyNative = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => anyNative.read(sfd, {}, 0, 1)).toThrow(TypeError);
    expect(() => anyNative.read(sfd, 'str', 0, 1)).toThrow(TypeError);
    expect(() => anyNative.read('3', scratch, 0, 1)).toThrow(TypeError);
    expect(() => anyNative.read(sfd, scratch, 0)).toThrow(TypeError);
    expect(() => anyNative.read(sfd, new SharedArrayBuffer(8), 0, 1)).toThrow(TypeError);

    const sab = new SharedArrayBuffer(16);
    const view = new Uint8Array(sab);
    view.set(enc.encode('sab'));
    expect(native.write(cfd, view, 0, 3)).toBe(3);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, view, 8, 8)).toBe(3);
    expect(dec.decode(view.slice(8, 11))).toBe('sab');
  });
});

// --- writev --------------------------------------------------------------------------------------

describe('writev', () => {
  it('gathers list<u8> records ({ptr, len}, the layout generated from the WIT) that point into the same buffer', () => {
    const { cfd, sfd } = tcpPair();
    const mem = new WebAssembly.Memory({ initial: 1 });
    const bytes = new Uint8Array(mem.buffer);
    const dv = new DataView(mem.buffer);
    const pieces: Array<[number, string]> = [
      [2000, 'ab'],
      [3000, 'cde'],
      [4000, ''],
      [65_536 - 3, 'fgh'], // ends exactly at the end of memory
    ];
    const table = 101; // deliberately unaligned
    pieces.forEach(([off, text], i) => {
      bytes.set(enc.encode(text), off);
      dv.setUint32(table + i * ListLayout.size + ListLayout.ptr, off, true);
      dv.setUint32(table + i * ListLayout.size + ListLayout.len, text.length, true);
    });

    expect(native.writev(cfd, mem.buffer, table, pieces.length)).toBe(8);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, mem.buffer, 10_000, 64)).toBe(8);
    expect(dec.decode(bytes.subarray(10_000, 10_008))).toBe('abcdefgh');

    expect(native.writev(cfd, mem.buffer, table, 0)).toBe(0);
    expect(native.writev(cfd, mem.buffer, table, -1)).toBe(-ERRNO.EINVAL);
  });

  it('returns -EFAULT (and writes nothing) if the table or any record is out of bounds', () => {
    const { cfd, sfd } = tcpPair();
    const ab = new ArrayBuffer(128);
    const dv = new DataView(ab);
    dv.setUint32(0, 64, true);
    dv.setUint32(4, 8, true); // fine
    dv.setUint32(8, 120, true);
    dv.setUint32(12, 9, true); // 120 + 9 > 128

    expect(native.writev(cfd, ab, 0, 2)).toBe(-ERRNO.EFAULT);
    expect(native.writev(cfd, ab, 128 - 8, 2)).toBe(-ERRNO.EFAULT); // table itself
    dv.setUint32(8, 0xffffffff, true);
    dv.setUint32(12, 2, true); // offset + len wraps in u32
    expect(native.writev(cfd, ab, 0, 2)).toBe(-ERRNO.EFAULT);
    expect(native.read(sfd, ab, 0, 16)).toBe(-ERRNO.EAGAIN); // nothing was sent

    expect(native.writev(cfd, ab, 0, 1)).toBe(8);
  });

  it('uses only the first 1024 records of a longer list', () => {
    const { cfd, sfd } = tcpPair();
    const count = 1100;
    const ab = new ArrayBuffer(count * 8 + count);
    const dv = new DataView(ab);
    const data = count * 8;
    for (let i = 0; i < count; i++) {
      dv.setUint32(i * 8, data + i, true);
      dv.setUint32(i * 8 + 4, 1, true);
      dv.setUint8(data + i, 65 + (i % 26));
    }
    expect(native.writev(cfd, ab, 0, count)).toBe(1024);
    waitFor(sfd, EPOLL.IN);
    const got = new ArrayBuffer(2048);
    let total = 0;
    while (total < 1024) {
      const n = native.read(sfd, got, total, 2048 - total);
      if (n === -ERRNO.EAGAIN) {
        waitFor(sfd, EPOLL.IN);
        continue;
      }
      expect(n).toBeGreaterThan(0);
      total += n;
    }
    expect(total).toBe(1024);
    expect(new Uint8Array(got, 0, 1024)).toEqual(new Uint8Array(ab, data, 1024));
  });
});

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

  describe.skipIf(!hasV6)('IPv6 (::1 bindable)', () => {
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

// --- event-loop watchers --------------------------------------------------------------------------------

describe('watchers (in process)', () => {
  /** An epoll fd that becomes readable once a client connects to `lfd` (left un-accepted, so it stays ready). */
  function readyEpoll(): { ep: number; lfd: number; connect: () => number } {
    const ep = track(native.epollCreate());
    const lfd = track(native.listen(4, '127.0.0.1', 0, 4, 0));
    const { port } = sockAddr(native.getsockname(lfd));
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, lfd, EPOLL.IN, 77)).toBe(0);
    return { ep, lfd, connect: () => track(native.connect(4, '127.0.0.1', port)) };
  }

  it('fires while the epoll set has something ready (level-triggered), and never after watchStop', async () => {
    const { ep, connect } = readyEpoll();
    const buf = new ArrayBuffer(64);
    const seen: Array<{ n: number; token: number; asyncId: number }> = [];
    let h: WatchHandle | undefined;
    const stopped = new Promise<void>((resolve) => {
      h = watch(ep, () => {
        const n = native.epollWait(ep, buf, 0, 8, 0);
        seen.push({ n, token: new DataView(buf).getUint32(0, true), asyncId: executionAsyncId() });
        // Leave the connection pending: the watcher must fire again on the next turn.
        if (seen.length === 2) {
          native.watchStop(h!); // from inside the callback
          native.watchStop(h!); // idempotent
          resolve();
        }
      });
    });
    await loopTurns(3);
    expect(seen).toHaveLength(0); // nothing ready yet
    connect();
    await withTimeout(stopped, 'watcher callbacks');
    await loopTurns(5);
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect(s.n).toBe(1);
      expect(s.token).toBe(77);
      expect(s.asyncId).toBeGreaterThan(1); // runs in the watcher's own async context
    }
    native.watchRef(h!, true); // no-op after stop
    native.watchStop(h!);
  });

  it('stops from outside, can be restarted on the same epoll fd, and rejects bad arguments', async () => {
    const { ep, connect } = readyEpoll();
    let first = 0;
    const h1 = watch(ep, () => first++);
    native.watchStop(h1);
    connect();
    waitFor(ep, EPOLL.IN); // the epoll set is ready now
    await loopTurns(3);
    expect(first).toBe(0);

    let second = 0;
    const fired = new Promise<void>((resolve) => {
      const h2 = watch(ep, () => {
        second++;
        native.watchStop(h2);
        resolve();
      });
      native.watchRef(h2, false); // unref'd: still delivers while the loop runs
    });
    await withTimeout(fired, 'restarted watcher');
    expect(second).toBe(1);

    const anyNative = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => anyNative.watchStart(ep, 'nope')).toThrow(TypeError);
    expect(() => anyNative.watchStop({})).toThrow(TypeError);
    expect(() => anyNative.watchRef(h1, 1)).toThrow(TypeError);
    expect(() => native.watchStart(-1, () => {})).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => native.watchStart(1_000_000, () => {})).toThrow(expect.objectContaining({ code: 'EBADF' }));
    const h3 = watch(ep, () => {});
    // One watcher per fd per thread: libuv refuses a second poll handle on the same fd.
    expect(() => native.watchStart(ep, () => {})).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    native.watchStop(h3);
  });
});

// --- process exit, exceptions, worker threads (child processes) ------------------------------------------

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node [flags] -e script` with the addon path in NBIO_ADDON. */
function runChild(script: string, flags: string[] = []): Promise<ChildResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NBIO_ADDON: addonPath, MALLOC_PERTURB_: '165' };
  delete env.NODE_OPTIONS;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, '-e', script], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: CHILD_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

// Shared prelude of child scripts: `ready()` returns an epoll fd that becomes
// readable once the returned `connect()` is called.
const PRELUDE = `
const native = require(process.env.NBIO_ADDON);
function ready() {
  const ep = native.epollCreate();
  const lfd = native.listen(4, '127.0.0.1', 0, 4, 0);
  const port = native.getsockname(lfd).port;
  if (ep < 0 || lfd < 0 || native.epollCtl(ep, 1, lfd, 1, 0) !== 0) throw new Error('setup failed');
  const fds = [ep, lfd];
  return {
    ep, fds,
    connect() { fds.push(native.connect(4, '127.0.0.1', port)); },
    closeAll() { for (const fd of fds) native.close(fd); },
  };
}
`;

describe('watchers and process lifetime (child processes)', () => {
  it('a watcher stopped after firing once lets the process exit; a nextTick from the callback runs before it fires again', async () => {
    const r = await runChild(`${PRELUDE}
      const s = ready();
      let calls = 0;
      const h = native.watchStart(s.ep, () => {
        calls++;
        // Stopped from a tick, with the epoll fd still ready: the callback
        // must not run again before the tick does.
        process.nextTick(() => { native.watchStop(h); s.closeAll(); });
      });
      s.connect();
      process.on('exit', () => console.log('calls=' + calls));
    `);
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.stdout.trim()).toBe('calls=1');
  });

  it('a ref\'d watcher keeps the process alive; an unref\'d one does not', async () => {
    const alive = await runChild(`${PRELUDE}
      const ep = native.epollCreate();
      const h = native.watchStart(ep, () => console.log('unexpected'));
      native.watchRef(h, false);
      native.watchRef(h, true);
      // An unref'd timer can only fire if something else keeps the loop alive.
      setTimeout(() => { console.log('alive'); native.watchStop(h); native.close(ep); }, 20).unref();
    `);
    expect(alive).toMatchObject({ code: 0, signal: null });
    expect(alive.stdout.trim()).toBe('alive');

    const unref = await runChild(`${PRELUDE}
      const ep = native.epollCreate();
      const h = native.watchStart(ep, () => console.log('unexpected'));
      native.watchRef(h, false); // left running: closed by the env teardown hook at exit
      setTimeout(() => console.log('kept alive'), 20).unref();
      process.on('exit', () => console.log('exit'));
    `);
    expect(unref).toMatchObject({ code: 0, signal: null });
    expect(unref.stdout.trim()).toBe('exit');
  });

  it('an exception thrown by the callback goes to process "uncaughtException"', async () => {
    const r = await runChild(`${PRELUDE}
      const s = ready();
      const h = native.watchStart(s.ep, () => { throw new Error('boom'); });
      process.on('uncaughtException', (e) => {
        console.log('caught ' + e.message);
        native.watchStop(h);
        s.closeAll();
      });
      s.connect();
    `);
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.stdout.trim()).toBe('caught boom');
  });

  it('process.exit() from inside a callback, with the watcher still running, exits cleanly', async () => {
    const r = await runChild(`${PRELUDE}
      const s = ready();
      native.watchStart(s.ep, () => process.exit(7));
      s.connect();
    `);
    expect(r).toMatchObject({ code: 7, signal: null, stderr: '' });
  });

  it('a handle garbage-collected while its watcher runs is safe (freed after close)', async () => {
    const r = await runChild(
      `${PRELUDE}
      const s = ready();
      let calls = 0;
      const keepAlive = setInterval(() => {}, 1000);
      const registry = new FinalizationRegistry(() => {
        console.log('collected');
        s.connect();
      });
      (function () {
        const h = native.watchStart(s.ep, () => {
          // The handle is gone, so this watcher can never be stopped: it is
          // unref'd and the teardown hook closes it at exit.
          if (++calls === 1) { console.log('fired'); clearInterval(keepAlive); }
        });
        native.watchRef(h, false);
        registry.register(h, 0);
      })();
      setImmediate(() => globalThis.gc());
    `,
      ['--expose-gc'],
    );
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.stdout.trim().split('\n')).toEqual(['collected', 'fired']);
  });

  it('worker threads: terminate (idle or inside a callback) and natural exit with live watchers do not crash', async () => {
    const r = await runChild(`
      const { Worker } = require('node:worker_threads');
      const workerSrc = ${JSON.stringify(`${PRELUDE}
        const { parentPort, workerData } = require('node:worker_threads');
        const s = ready();
        let calls = 0;
        const h = native.watchStart(s.ep, () => {
          if (++calls > 1) return;
          parentPort.postMessage('fired');
          if (workerData === 'busy') for (;;) {}
          if (workerData === 'stop') { native.watchStop(h); s.closeAll(); }
        });
        if (workerData === 'unref') native.watchRef(h, false);
        s.connect();
      `)};
      function run(mode) {
        return new Promise((resolve, reject) => {
          const w = new Worker(workerSrc, { eval: true, workerData: mode });
          w.on('error', reject);
          w.on('message', (m) => {
            if (m === 'fired' && (mode === 'idle' || mode === 'busy')) w.terminate();
          });
          w.on('exit', (code) => resolve(code));
        });
      }
      (async () => {
        const codes = [];
        for (let i = 0; i < 3; i++)
          for (const mode of ['idle', 'busy', 'stop', 'unref']) codes.push(mode + ':' + (await run(mode)));
        console.log(codes.join(' '));
      })();
    `);
    expect(r).toMatchObject({ code: 0, signal: null });
    const expected = Array.from({ length: 3 }, () => 'idle:1 busy:1 stop:0 unref:0').join(' ');
    expect(r.stdout.trim()).toBe(expected);
  });
});

describe('watchers in a worker thread (in process)', () => {
  it('a terminated worker with an active watcher leaves this process running', async () => {
    const src = `${PRELUDE}
      const { parentPort } = require('node:worker_threads');
      const s = ready();
      native.watchStart(s.ep, () => parentPort.postMessage({ fired: true, fds: s.fds }));
      s.connect();
    `;
    const w = new Worker(src, { eval: true, env: { ...process.env, NBIO_ADDON: addonPath } });
    const fds = await withTimeout(
      new Promise<number[]>((resolve, reject) => {
        w.once('error', reject);
        w.once('message', (m: { fds: number[] }) => resolve(m.fds));
      }),
      'worker watcher',
    );
    expect(fds).toHaveLength(3);
    for (const fd of fds) track(fd); // fds are process-wide: close them here
    expect(await w.terminate()).toBe(1);

    // This thread's own shim still works afterwards.
    const { cfd, sfd } = tcpPair();
    expect(native.write(cfd, enc.encode('ok'), 0, 2)).toBe(2);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, scratch, 0, 8)).toBe(2);
  });
});
