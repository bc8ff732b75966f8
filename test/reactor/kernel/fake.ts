// An in-memory kernel for the reactor: epoll, sockets and their failures,
// driven by the fault-injection tests instead of Linux.
import { Peer, newSocket, resetNow, type FakeSocket } from './fake-socket.js';
import type { Fault } from './fault.js';
import {
  EAGAIN, EBADF, ECONNABORTED, ECONNRESET, EEXIST, EINVAL, ENOENT, ENOTCONN, ENOTSOCK, EOPNOTSUPP, EPIPE, EPOLLERR,
  EPOLLET, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, SHUT_RDWR, SHUT_WR,
} from './linux-numbers.js';
import type { HighLevelSys, ReadResult, Ready, RecvResult, WaitResult } from './lower.js';

export { Peer } from './fake-socket.js';

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
 * Faults: {@link inject} arms one-shot failures and short transfers of
 * single calls; {@link report} adds a readiness report of the test's
 * choosing to the next `epoll-wait` (a stale token of a descriptor closed
 * or reused since, or a spurious wake-up); {@link Peer.fail} gives a
 * connection a pending error.
 *
 * `shutdown` (SHUT_WR) ends the engine's direction: the peer sees its end
 * ({@link Peer.engineEnded}) and later writes fail with -EPIPE; reading
 * goes on. `close` with bytes from the peer still unread resets the
 * connection, as Linux does ({@link Peer.resetByEngine}).
 *
 * Deliberate limits: EPOLLET is refused (-EINVAL) rather than faked; there
 * are no UDP sockets (`recv-from` and `send-to` give -EOPNOTSUPP) and no
 * files (`send-file` gives -EOPNOTSUPP).
 *
 * All methods are bound (jco destructures the import object). With `log`
 * (the default), every `sys` call is appended to {@link calls} as
 * `name(args) -> result`.
 */
export class FakeKernel implements HighLevelSys {
  /** Every `sys` call, in order, as `name(args) -> result` (empty when not logging). */
  readonly calls: string[] = [];
  readonly #log: boolean;
  readonly #fds = new Map<number, FakeFile>();
  readonly #faults: Fault[] = [];
  readonly #reports: Ready[] = [];
  /** Faults taken by a call so far, in order. */
  readonly taken: Fault[] = [];

  constructor(options: { log?: boolean } = {}) {
    this.#log = options.log ?? true;
  }

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

  /** Arms a one-shot fault for a future call (see {@link Fault}). */
  inject(fault: Fault): void {
    this.#faults.push({ ...fault });
  }

  /** Faults armed and not yet taken by a call. */
  get pendingFaults(): number {
    return this.#faults.length;
  }

  /** Drops every fault not yet taken. */
  clearFaults(): void {
    this.#faults.length = 0;
  }

  /**
   * Adds a readiness report to the next successful `epoll-wait`, whatever
   * the interest: as Linux may still report a descriptor closed (or closed
   * and reused) while the batch was being processed, or wake up spuriously.
   */
  report(token: number, events: number): void {
    this.#reports.push({ token: token >>> 0, events: events >>> 0 });
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

  epollCreate = (): number => this.#logged('epollCreate', [], this.#install({ kind: 'epoll', interest: new Map() }));

  epollCtl = (epfd: number, op: number, fd: number, events: number, token: number): number =>
    this.#logged('epollCtl', [epfd, op, fd, hex(events), token], this.#epollCtl(epfd, op, fd, events >>> 0, token >>> 0));

  epollWait = (epfd: number, maxEvents: number, timeoutMs: number): WaitResult => {
    const fault = this.#take('epoll-wait', epfd);
    const r: WaitResult = fault?.errno !== undefined ? { tag: 'error', val: fault.errno } : this.#epollWait(epfd, maxEvents);
    if (this.#log) {
      const shown = r.tag === 'error' ? r.val : `[${r.val.map((x) => `${x.token}:${hex(x.events)}`).join(' ')}]`;
      this.#logged('epollWait', [epfd, maxEvents, timeoutMs], 0, shown);
    }
    return r;
  };

  accept = (fd: number): number => this.#logged('accept', [fd], this.#accept(fd));

  read = (fd: number, maxLen: number): ReadResult => {
    const r = this.#read(fd, maxLen);
    if (this.#log) this.#logged('read', [fd, maxLen], 0, r.tag === 'error' ? r.val : `${r.val.length}B`);
    return r;
  };

  write = (fd: number, data: Uint8Array): number =>
    this.#logged('write', [fd, `${data.length}B`], this.#send(fd, [data]));

  writev = (fd: number, chunks: Uint8Array[]): number =>
    this.#logged('writev', [fd, `[${chunks.map((c) => `${c.length}B`).join(' ')}]`], this.#send(fd, chunks));

  close = (fd: number): number => {
    const f = this.#fds.get(fd);
    if (!f) return this.#logged('close', [fd], -EBADF);
    this.#fds.delete(fd);
    for (const other of this.#fds.values()) if (other.kind === 'epoll') other.interest.delete(fd);
    // Faults aimed at this socket die with it (a new socket may get its number).
    for (let i = this.#faults.length - 1; i >= 0; i--) if (this.#faults[i].fd === fd) this.#faults.splice(i, 1);
    if (f.kind === 'socket') {
      f.closed = true;
      if (f.inbox.length > 0 && !f.reset) f.closedUnread = true;
    }
    if (f.kind === 'listener') for (const s of f.queue) s.reset = true;
    return this.#logged('close', [fd], 0);
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
    return this.#logged('socketError', [fd], r);
  };

  setNoDelay = (fd: number, on: boolean): number => {
    const s = this.#fds.get(fd);
    let r = 0;
    if (!s) r = -EBADF;
    else if (s.kind !== 'socket') r = -ENOTSOCK;
    else s.noDelay = on;
    return this.#logged('setNoDelay', [fd, on], r);
  };

  shutdown = (fd: number, how: number): number => {
    const s = this.#fds.get(fd);
    let r = 0;
    if (!s) r = -EBADF;
    else if (s.kind !== 'socket') r = -ENOTSOCK;
    else if (s.state === 'connecting' || s.reset) r = -ENOTCONN;
    else if (how === SHUT_WR || how === SHUT_RDWR) s.shutWr = true;
    return this.#logged('shutdown', [fd, how], r);
  };

  recvFrom = (fd: number, maxLen: number): RecvResult => {
    const r = this.#fds.has(fd) ? -EOPNOTSUPP : -EBADF;
    this.#logged('recvFrom', [fd, maxLen], r);
    return { tag: 'error', val: r };
  };

  sendTo = (fd: number, data: Uint8Array, _destination: Uint8Array): number =>
    this.#logged('sendTo', [fd, `${data.length}B`], this.#fds.has(fd) ? -EOPNOTSUPP : -EBADF);

  sendFile = (fd: number, fileFd: number, offset: bigint, count: number): number =>
    this.#logged('sendFile', [fd, fileFd, offset, count], this.#fds.has(fd) ? -EOPNOTSUPP : -EBADF);

  // ---- internals ----

  #install(f: FakeFile): number {
    let fd = 3;
    while (this.#fds.has(fd)) fd++;
    this.#fds.set(fd, f);
    return fd;
  }

  /** Records one call (when logging); returns `result` (numbers are shown as they are). */
  #logged(name: string, args: unknown[], result: number, shown: string | number = result): number {
    if (this.#log) this.calls.push(`${name}(${args.join(', ')}) -> ${shown}`);
    return result;
  }

  /** Takes the first armed fault for a call of kind `call` on `fd`. */
  #take(call: Fault['call'], fd: number): Fault | undefined {
    const i = this.#faults.findIndex((f) => f.call === call && (f.fd === undefined || f.fd === fd));
    if (i < 0) return undefined;
    const [fault] = this.#faults.splice(i, 1);
    this.taken.push(fault);
    return fault;
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

  #epollWait(epfd: number, maxEvents: number): WaitResult {
    const ep = this.#fds.get(epfd);
    if (!ep) return { tag: 'error', val: -EBADF };
    if (ep.kind !== 'epoll' || maxEvents <= 0) return { tag: 'error', val: -EINVAL };
    const ready: Ready[] = [];
    while (this.#reports.length > 0 && ready.length < maxEvents) ready.push(this.#reports.shift()!);
    for (const [fd, reg] of ep.interest) {
      if (ready.length >= maxEvents) break;
      const events = readiness(this.#fds.get(fd)!) & (reg.events | EPOLLERR | EPOLLHUP);
      if (events !== 0) ready.push({ token: reg.token, events });
    }
    return { tag: 'ready', val: ready };
  }

  #accept(fd: number): number {
    const l = this.#fds.get(fd);
    if (!l) return -EBADF;
    if (l.kind !== 'listener') return -EINVAL;
    const fault = this.#take('accept', fd);
    if (fault?.errno === -ECONNABORTED) {
      const dropped = l.queue.shift();
      if (dropped === undefined) return -EAGAIN;
      dropped.aborted = true;
      return -ECONNABORTED;
    }
    if (fault?.errno !== undefined) return fault.errno;
    if (l.queue.length === 0) return -EAGAIN;
    const s = l.queue.shift()!;
    s.fd = this.#install(s);
    return s.fd;
  }

  #read(fd: number, maxLen: number): ReadResult {
    const s = this.#fds.get(fd);
    if (!s) return { tag: 'error', val: -EBADF };
    if (s.kind !== 'socket') return { tag: 'error', val: -EINVAL };
    // Both directions shut (HUP): Linux's read gives the bytes left, then
    // the end, never EAGAIN; a fault waits for a read it can apply to.
    const fault = s.shutWr && s.eof ? undefined : this.#take('read', fd);
    if (fault?.errno !== undefined) {
      if (fault.errno === -ECONNRESET) {
        resetNow(s);
        s.error = 0; // taken by this read
      }
      return { tag: 'error', val: fault.errno };
    }
    if (s.state === 'connecting') return { tag: 'error', val: -EAGAIN };
    if (s.inbox.length > 0) {
      // Queued bytes come first, even after a reset (as tcp_recvmsg does).
      const n = Math.min(maxLen, s.inbox.length, fault?.limit ?? Infinity);
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
    const fault = this.#take('write', fd);
    if (fault?.errno !== undefined) {
      if (fault.errno === -EPIPE || fault.errno === -ECONNRESET) resetNow(s);
      return fault.errno;
    }
    if (s.error !== 0) {
      const e = s.error;
      s.error = 0;
      return e;
    }
    if (s.reset || s.shutWr) return -EPIPE;
    if (s.capacity === 0) return -EAGAIN;
    let room = Math.min(s.capacity, fault?.limit ?? Infinity);
    let taken = 0;
    for (const c of chunks) {
      const n = Math.min(c.length, room);
      if (n > 0) s.sent.push(c.slice(0, n));
      room -= n;
      taken += n;
      if (n < c.length) break;
    }
    s.capacity -= taken;
    return taken;
  }
}

// ---- model ----

interface FakeListener {
  kind: 'listener';
  queue: FakeSocket[];
}
interface FakeEpoll {
  kind: 'epoll';
  interest: Map<number, { events: number; token: number }>;
}
type FakeFile = FakeSocket | FakeListener | FakeEpoll;

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
