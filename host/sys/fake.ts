import type { HighLevelSys, ReadResult, Ready, RecvResult, WaitResult } from './lower.js';

/**
 * An in-memory, Linux-ish kernel implementing `sys` (wit/nbio-engine.wit)
 * in jco's high-level form ({@link HighLevelSys}), for tests: it drives the
 * reactor through `jco transpile` output directly, and through the fast
 * path via `lowerSys`. Nothing here touches the OS, and time does not
 * exist: nothing blocks, and a wait with nothing ready returns at once.
 *
 * The model:
 * - descriptors are numbered like Linux's: the lowest free number >= 3;
 * - a listening socket holds a queue of peer connections not yet accepted;
 * - a connected socket holds an inbox (bytes from the peer), an EOF flag
 *   (the peer ended its stream), a reset flag, a pending socket error
 *   (SO_ERROR) and a send capacity: how many more bytes the kernel takes
 *   before `write` says EAGAIN. The test side raises the capacity
 *   ({@link Peer.drain}) to play a peer that reads;
 * - an epoll instance holds an interest list; readiness is level-triggered
 *   and computed from socket state at each `epoll-wait`, as `tcp_poll`
 *   would: IN when there is something to read (bytes, EOF, reset), RDHUP
 *   once the peer ended or reset, OUT while capacity > 0 (and always once
 *   the connection is dead), ERR while an error is pending, HUP once both
 *   directions are shut (reset, failed connect). ERR and HUP are reported
 *   whatever the interest, as on Linux.
 *
 * `shutdown` (SHUT_WR) ends the engine's direction: the peer sees its end
 * ({@link Peer.engineEnded}) and later writes fail with -EPIPE.
 *
 * Deliberate limits: EPOLLET is refused (-EINVAL) rather than faked; there
 * are no UDP sockets (`recv-from` and `send-to` give -EOPNOTSUPP).
 *
 * All methods are bound (jco destructures the import object). Every `sys`
 * call is appended to {@link calls} as `name(args) -> result`.
 */
export class FakeKernel implements HighLevelSys {
  /** Every `sys` call, in order, as `name(args) -> result`. */
  readonly calls: string[] = [];
  readonly #fds = new Map<number, FakeFile>();

  // ---- test side ----

  /** Creates a listening socket; returns its descriptor (for `add-listener`). */
  listen(): number {
    return this.#install({ kind: 'listener', queue: [] });
  }

  /**
   * A peer connects to the listener `listenFd`: the connection waits in its
   * accept queue until the reactor accepts it. The handle's {@link Peer.fd}
   * is set on accept.
   */
  connectPeer(listenFd: number, capacity = 1 << 20): Peer {
    const l = this.#fds.get(listenFd);
    if (l?.kind !== 'listener') throw new Error(`fake kernel: fd ${listenFd} is not a listener`);
    const s = newSocket('connected', capacity);
    l.queue.push(s);
    return new Peer(s);
  }

  /**
   * A socket whose non-blocking connect is in progress (for `add-conn` with
   * `connecting`): not ready at all until {@link Peer.establish} or
   * {@link Peer.refuse}. Returns the peer handle, with its fd already set.
   */
  dial(capacity = 1 << 20): Peer {
    const s = newSocket('connecting', capacity);
    s.fd = this.#install(s);
    return new Peer(s);
  }

  /** The interest registered for `fd` in epoll instance `epfd`, if any. */
  interest(epfd: number, fd: number): { events: number; token: number } | undefined {
    const ep = this.#fds.get(epfd);
    const reg = ep?.kind === 'epoll' ? ep.interest.get(fd) : undefined;
    return reg && { ...reg };
  }

  /** Descriptors currently open, ascending. */
  openFds(): number[] {
    return [...this.#fds.keys()].sort((a, b) => a - b);
  }

  // ---- sys ----

  epollCreate = (): number => this.#log('epollCreate', [], this.#install({ kind: 'epoll', interest: new Map() }));

  epollCtl = (epfd: number, op: number, fd: number, events: number, token: number): number =>
    this.#log('epollCtl', [epfd, op, fd, hex(events), token], this.#epollCtl(epfd, op, fd, events >>> 0, token >>> 0));

  epollWait = (epfd: number, maxEvents: number, timeoutMs: number): WaitResult => {
    const r = this.#epollWait(epfd, maxEvents, timeoutMs);
    const shown = r.tag === 'error' ? r.val : `[${r.val.map((x) => `${x.token}:${hex(x.events)}`).join(' ')}]`;
    this.#log('epollWait', [epfd, maxEvents, timeoutMs], 0, shown);
    return r;
  };

  accept = (fd: number): number => {
    const l = this.#fds.get(fd);
    let r: number;
    if (!l) r = -EBADF;
    else if (l.kind !== 'listener') r = -EINVAL;
    else if (l.queue.length === 0) r = -EAGAIN;
    else {
      const s = l.queue.shift()!;
      r = s.fd = this.#install(s);
    }
    return this.#log('accept', [fd], r);
  };

  read = (fd: number, maxLen: number): ReadResult => {
    const r = this.#read(fd, maxLen);
    this.#log('read', [fd, maxLen], 0, r.tag === 'error' ? r.val : `${r.val.length}B`);
    return r;
  };

  write = (fd: number, data: Uint8Array): number => this.#log('write', [fd, `${data.length}B`], this.#send(fd, [data]));

  writev = (fd: number, chunks: Uint8Array[]): number =>
    this.#log('writev', [fd, `[${chunks.map((c) => `${c.length}B`).join(' ')}]`], this.#send(fd, chunks));

  close = (fd: number): number => {
    const f = this.#fds.get(fd);
    if (!f) return this.#log('close', [fd], -EBADF);
    this.#fds.delete(fd);
    for (const other of this.#fds.values()) if (other.kind === 'epoll') other.interest.delete(fd);
    if (f.kind === 'socket') f.closed = true;
    if (f.kind === 'listener') for (const s of f.queue) s.reset = true;
    return this.#log('close', [fd], 0);
  };

  socketError = (fd: number): number => {
    const s = this.#fds.get(fd);
    let r: number;
    if (!s) r = -EBADF;
    else if (s.kind !== 'socket') r = -ENOTSOCK;
    else {
      r = s.error;
      s.error = 0;
    }
    return this.#log('socketError', [fd], r);
  };

  setNoDelay = (fd: number, on: boolean): number => {
    const s = this.#fds.get(fd);
    let r = 0;
    if (!s) r = -EBADF;
    else if (s.kind !== 'socket') r = -ENOTSOCK;
    else s.noDelay = on;
    return this.#log('setNoDelay', [fd, on], r);
  };

  shutdown = (fd: number, how: number): number => {
    const s = this.#fds.get(fd);
    let r = 0;
    if (!s) r = -EBADF;
    else if (s.kind !== 'socket') r = -ENOTSOCK;
    else if (s.state === 'connecting' || s.reset) r = -ENOTCONN;
    else if (how === SHUT_WR || how === SHUT_RDWR) s.shutWr = true;
    return this.#log('shutdown', [fd, how], r);
  };

  recvFrom = (fd: number, maxLen: number): RecvResult => {
    const r = this.#fds.has(fd) ? -EOPNOTSUPP : -EBADF;
    this.#log('recvFrom', [fd, maxLen], r);
    return { tag: 'error', val: r };
  };

  sendTo = (fd: number, data: Uint8Array, _destination: Uint8Array): number =>
    this.#log('sendTo', [fd, `${data.length}B`], this.#fds.has(fd) ? -EOPNOTSUPP : -EBADF);

  // ---- internals ----

  #install(f: FakeFile): number {
    let fd = 3;
    while (this.#fds.has(fd)) fd++;
    this.#fds.set(fd, f);
    return fd;
  }

  /** Records one call; returns `result` (numbers are shown as they are). */
  #log(name: string, args: unknown[], result: number, shown: string | number = result): number {
    this.calls.push(`${name}(${args.join(', ')}) -> ${shown}`);
    return result;
  }

  #epollCtl(epfd: number, op: number, fd: number, events: number, token: number): number {
    const ep = this.#fds.get(epfd);
    if (!ep || !this.#fds.has(fd)) return -EBADF;
    if (ep.kind !== 'epoll' || fd === epfd) return -EINVAL;
    if (events & EPOLLET) return -EINVAL; // level-triggered only (see class doc)
    const has = ep.interest.has(fd);
    switch (op) {
      case EPOLL_CTL_ADD:
        if (has) return -EEXIST;
        ep.interest.set(fd, { events, token });
        return 0;
      case EPOLL_CTL_DEL:
        if (!has) return -ENOENT;
        ep.interest.delete(fd);
        return 0;
      case EPOLL_CTL_MOD:
        if (!has) return -ENOENT;
        ep.interest.set(fd, { events, token });
        return 0;
      default:
        return -EINVAL;
    }
  }

  #epollWait(epfd: number, maxEvents: number, _timeoutMs: number): WaitResult {
    const ep = this.#fds.get(epfd);
    if (!ep) return { tag: 'error', val: -EBADF };
    if (ep.kind !== 'epoll' || maxEvents <= 0) return { tag: 'error', val: -EINVAL };
    const ready: Ready[] = [];
    for (const [fd, reg] of ep.interest) {
      if (ready.length >= maxEvents) break;
      const events = readiness(this.#fds.get(fd)!) & (reg.events | EPOLLERR | EPOLLHUP);
      if (events !== 0) ready.push({ token: reg.token, events });
    }
    return { tag: 'ready', val: ready };
  }

  #read(fd: number, maxLen: number): ReadResult {
    const s = this.#fds.get(fd);
    if (!s) return { tag: 'error', val: -EBADF };
    if (s.kind !== 'socket') return { tag: 'error', val: -EINVAL };
    if (s.state === 'connecting') return { tag: 'error', val: -EAGAIN };
    if (s.inbox.length > 0) {
      // Queued bytes come first, even after a reset (as tcp_recvmsg does).
      const n = Math.min(maxLen, s.inbox.length);
      const out = s.inbox.slice(0, n);
      s.inbox = s.inbox.subarray(n);
      return { tag: 'data', val: out };
    }
    if (s.error !== 0) {
      const e = s.error;
      s.error = 0;
      return { tag: 'error', val: e };
    }
    if (s.eof || s.reset) return { tag: 'data', val: new Uint8Array(0) };
    return { tag: 'error', val: -EAGAIN };
  }

  #send(fd: number, chunks: Uint8Array[]): number {
    const s = this.#fds.get(fd);
    if (!s) return -EBADF;
    if (s.kind !== 'socket') return -EINVAL;
    if (s.state === 'connecting') return -EAGAIN;
    if (s.error !== 0) {
      const e = s.error;
      s.error = 0;
      return e;
    }
    if (s.reset || s.shutWr) return -EPIPE;
    if (s.capacity === 0) return -EAGAIN;
    let taken = 0;
    for (const c of chunks) {
      const n = Math.min(c.length, s.capacity);
      if (n > 0) s.sent.push(c.slice(0, n));
      s.capacity -= n;
      taken += n;
      if (n < c.length) break;
    }
    return taken;
  }
}

/**
 * The far end of one connection, driven by the test. Calls take effect at
 * once; the engine notices at its next `epoll-wait` (level-triggered).
 */
export class Peer {
  readonly #s: FakeSocket;
  constructor(s: FakeSocket) {
    this.#s = s;
  }

  /** The engine-side descriptor: set once accepted (or at once for `dial`). */
  get fd(): number | undefined {
    return this.#s.fd;
  }

  /** True once the engine side closed its descriptor. */
  get closed(): boolean {
    return this.#s.closed;
  }

  /** Whether TCP_NODELAY is on for the engine-side socket. */
  get noDelay(): boolean {
    return this.#s.noDelay;
  }

  /** True once the engine shut its sending side (`shutdown` SHUT_WR): the peer read its end. */
  get engineEnded(): boolean {
    return this.#s.shutWr;
  }

  /** Bytes the engine may still write before EAGAIN. */
  get capacity(): number {
    return this.#s.capacity;
  }

  /** Queues bytes for the engine to read. */
  send(data: Uint8Array | string): void {
    const add = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const next = new Uint8Array(this.#s.inbox.length + add.length);
    next.set(this.#s.inbox);
    next.set(add, this.#s.inbox.length);
    this.#s.inbox = next;
  }

  /** Ends the peer's stream (FIN): after the inbox, reads return end of stream. */
  end(): void {
    this.#s.eof = true;
  }

  /**
   * Resets the connection (RST). Bytes already in the inbox are still read;
   * then the pending error -ECONNRESET is taken by the next read or write
   * (or `socket-error`), after which reads give end of stream and writes
   * -EPIPE.
   */
  reset(): void {
    this.#s.reset = true;
    this.#s.error = -ECONNRESET;
  }

  /** All bytes the engine wrote, concatenated. */
  received(): Uint8Array {
    const total = this.#s.sent.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of this.#s.sent) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  /** {@link received}, decoded as UTF-8. */
  receivedText(): string {
    return new TextDecoder().decode(this.received());
  }

  /** The peer read `n` bytes: the kernel takes `n` more before EAGAIN. */
  drain(n: number): void {
    this.#s.capacity += n;
  }

  /** Completes a connect in progress successfully (OUT becomes ready). */
  establish(): void {
    this.#s.state = 'connected';
  }

  /** Fails a connect in progress with `errno` (negated; default -ECONNREFUSED): ERR|HUP. */
  refuse(errno = -ECONNREFUSED): void {
    this.#s.state = 'connected';
    this.#s.reset = true;
    this.#s.error = errno;
  }
}

// ---- model ----

interface FakeSocket {
  kind: 'socket';
  state: 'connecting' | 'connected';
  fd: number | undefined;
  inbox: Uint8Array;
  eof: boolean;
  reset: boolean;
  error: number;
  capacity: number;
  sent: Uint8Array[];
  closed: boolean;
  noDelay: boolean;
  shutWr: boolean;
}
interface FakeListener {
  kind: 'listener';
  queue: FakeSocket[];
}
interface FakeEpoll {
  kind: 'epoll';
  interest: Map<number, { events: number; token: number }>;
}
type FakeFile = FakeSocket | FakeListener | FakeEpoll;

function newSocket(state: FakeSocket['state'], capacity: number): FakeSocket {
  return {
    kind: 'socket', state, fd: undefined, inbox: new Uint8Array(0), eof: false, reset: false,
    error: 0, capacity, sent: [], closed: false, noDelay: false, shutWr: false,
  };
}

/** The EPOLL* bits `f` is ready for, before masking with the interest. */
function readiness(f: FakeFile): number {
  if (f.kind === 'listener') return f.queue.length > 0 ? EPOLLIN : 0;
  if (f.kind === 'epoll') return 0;
  if (f.state === 'connecting') return 0;
  let ev = 0;
  if (f.inbox.length > 0 || f.eof || f.reset) ev |= EPOLLIN;
  if (f.eof || f.reset) ev |= EPOLLRDHUP;
  if (f.reset || (f.shutWr && f.eof)) ev |= EPOLLHUP;
  if (f.reset) ev |= EPOLLOUT; // dead: writes fail at once
  else if (f.capacity > 0) ev |= EPOLLOUT;
  if (f.error !== 0) ev |= EPOLLERR;
  return ev;
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

// ---- numbers (Linux x86-64) ----

export const EPOLLIN = 0x1;
export const EPOLLOUT = 0x4;
export const EPOLLERR = 0x8;
export const EPOLLHUP = 0x10;
export const EPOLLRDHUP = 0x2000;
export const EPOLLET = 0x80000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;

export const ENOENT = 2;
export const EBADF = 9;
export const EAGAIN = 11;
export const EEXIST = 17;
export const EINVAL = 22;
export const EPIPE = 32;
export const ENOTSOCK = 88;
export const EOPNOTSUPP = 95;
export const ENOTCONN = 107;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const ECONNREFUSED = 111;
