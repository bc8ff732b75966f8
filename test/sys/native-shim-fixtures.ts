// What the tests of the native shim (host/sys/native/*.c, through its typed
// loader host/sys/native.ts) share. They make real syscalls on loopback only,
// port 0 everywhere; every fd a test opens is tracked and closed in
// afterEach (and the close must succeed). No timing assertions: waits are
// event-driven, with a generous safety bound only to fail, not hang.
import { afterEach, expect } from 'vitest';
import { EPOLL, LISTEN, native, type SockAddr, type WatchHandle } from '../../host/sys/native.js';

export const SAFETY_MS = 10_000;

// --- fd and watcher bookkeeping ------------------------------------------------

const openFds = new Set<number>();
const openWatchers = new Set<WatchHandle>();

/** Asserts `fd` is a descriptor (not -errno) and closes it after the test. */
export function track(fd: number): number {
  expect(fd).toBeGreaterThanOrEqual(0);
  openFds.add(fd);
  return fd;
}

/** Closes a tracked `fd` now (the close must succeed). */
export function closeFd(fd: number): void {
  openFds.delete(fd);
  expect(native.close(fd)).toBe(0);
}

/** Starts a watcher that is stopped after the test. */
export function watch(epfd: number, cb: () => void): WatchHandle {
  const h = native.watchStart(epfd, cb);
  openWatchers.add(h);
  return h;
}

/** Registers the afterEach that stops every watcher and closes every fd the test tracked. */
export function closeTrackedAfterEach(): void {
  afterEach(() => {
    for (const h of openWatchers) native.watchStop(h);
    openWatchers.clear();
    const fds = [...openFds];
    openFds.clear();
    for (const fd of fds) expect(native.close(fd), `close(${fd})`).toBe(0);
  });
}

// --- helpers ---------------------------------------------------------------------

export const scratch = new ArrayBuffer(64 * 8);
export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** Blocks (up to the safety bound) until `fd` reports one of `events`; returns the reported events. */
export function waitFor(fd: number, events: number): number {
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

export function sockAddr(r: SockAddr | number): SockAddr {
  if (typeof r === 'number') throw new Error(`expected an address, got errno ${-r}`);
  return r;
}

export interface Pair {
  lfd: number; // listener
  cfd: number; // client side
  sfd: number; // accepted server side
  port: number;
}

/** A connected TCP pair over loopback, built only with the shim. */
export function tcpPair(family: 4 | 6 = 4, address = family === 4 ? '127.0.0.1' : '::1'): Pair {
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

export function withTimeout<T>(p: Promise<T>, label: string, ms = SAFETY_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`safety timeout: ${label}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Lets the event loop run `n` full iterations (each includes an I/O poll phase). */
export async function loopTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}
