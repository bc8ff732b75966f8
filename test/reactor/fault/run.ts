// Executes a generated schedule (test/reactor/fault/schedule.ts): the reactor's
// core module on the fast path (lowerSys) over the in-memory kernel, with
// this file playing the host the way host/poller/poller.ts does. Every event is
// checked as it is dispatched, and the end state after everything closed
// (test/reactor/fault/end-state.ts). A broken invariant throws an Error saying
// which and where.
import { EventKind, FD_MASK } from '../../../host/generated/abi.js';
import { GuestMemory } from '../../../host/guest/memory.js';
import { CloseCause, type Reactor } from '../../../host/guest/reactor.js';
import { instantiateReactor } from '../../../host/poller/reactor-loader.js';
import { readEvents } from '../reactor-events.js';
import { EAGAIN, EINTR, ENOBUFS, EPOLLIN, EPOLLOUT, EPOLLPRI } from '../kernel/linux-numbers.js';
import { FakeKernel } from '../kernel/fake.js';
import { lowerSys } from '../kernel/lower.js';
import { type Conn, type PeerSlot, type Round, Violation, check, checkEnd } from './end-state.js';
import type { Action, Schedule } from './schedule.js';

/** Outcome of one run, for properties that look at more than one run. */
export interface RunResult {
  /** Linear memory of the reactor after each round, in bytes. */
  memory: number[];
  /** Bytes the reactor had allocated after each round (`memory-in-use`). */
  inUse: number[];
  conns: number;
  /** Writes refused for lack of memory or over maxWriteBufferSize; bytes released. */
  overflows: number;
  released: number;
}

/** Deterministic, position-dependent bytes, so reordering and loss show. */
function bytes(stream: number, offset: number, len: number): number[] {
  const out = new Array<number>(len);
  for (let i = 0; i < len; i++) out[i] = (Math.imul(offset + i + 1, 0x9e3779b1) >>> 24) ^ (stream & 0xff);
  return out;
}

class Host implements Round {
  readonly kernel = new FakeKernel({ log: false });
  readonly mem = new GuestMemory();
  readonly r: Reactor;
  readonly lfd: number;
  readonly epfd: number;
  readonly maxWriteBufferSize: number;
  /** Writes may fail for lack of memory (a small `maxMemory`). */
  readonly tight: boolean;
  /** Peers and connections of the current round. */
  slots: PeerSlot[] = [];
  conns = new Map<number, Conn>();
  readonly paused = new Set<number>();
  /** epoll-wait failed: the host stops the reactor. */
  failed = false;
  /** poll-failed events seen. */
  pollFailures = 0;
  /** The dispatch ended a connection whose peer had ended (it may have closed at once). */
  #ended = false;
  /** Bytes of released memory; writes that failed with ENOBUFS. */
  released = 0;
  overflows = 0;

  constructor(schedule: Schedule) {
    this.r = instantiateReactor(lowerSys(this.kernel, this.mem), this.mem);
    const c = schedule.config;
    this.maxWriteBufferSize = c.maxWriteBufferSize;
    this.tight = c.maxMemory < 64 << 20;
    this.epfd = this.r.init(c.readBufferSize, c.maxWriteBufferSize, c.maxReads, 1, c.maxMemory, 0);
    check(this.epfd >= 0, `init failed: ${this.epfd}`);
    this.lfd = this.kernel.listen();
    check(this.r.addListener(this.lfd) === 0, 'add-listener failed');
  }

  /** Dispatches one returned list (`ret` addresses its {ptr, len}), checking each event. */
  dispatch(ret: number): number {
    this.mem.sync();
    const events = readEvents(this.mem.buffer, ret);
    // Connections the reactor closed in this batch are no longer live while
    // it is dispatched (as the Node host treats them: doomed from the start).
    const closing = new Set(events.filter((e) => e.kind === EventKind.Closed).map((e) => e.conn));
    for (const { kind, conn: handle, status, detail, data } of events) {
      const conn = this.conns.get(handle);
      switch (kind) {
        case EventKind.Opened:
          this.#opened(handle, detail);
          break;
        case EventKind.Data: {
          check(conn !== undefined && conn.opened, `data for ${handle} before it opened`);
          check(conn.closes.length === 0, `data for ${handle} after it closed`);
          check(data.length > 0, `empty data event for ${handle}`);
          for (const b of data) conn.delivered.push(b);
          break;
        }
        case EventKind.Closed:
          check(conn !== undefined, `closed for unknown handle ${handle}`);
          check(conn.closes.length === 0, `second closed for ${handle} (status ${status})`);
          check(conn.opened || conn.dialed, `closed for ${handle}, accepted but never opened`);
          conn.closes.push(status);
          break;
        case EventKind.ListenerPaused:
          check(detail === this.lfd, `listener-paused for ${detail}`);
          this.paused.add(detail);
          break;
        case EventKind.Drained:
          check(conn !== undefined && conn.opened && conn.closes.length === 0, `drained for ${handle}, not open`);
          if (conn.ending) this.#lingerIfSent(conn);
          break;
        case EventKind.Released:
          this.#discard(handle, detail);
          break;
        case EventKind.Ended:
          check(conn !== undefined && conn.opened && conn.closes.length === 0, `ended for ${handle}, not open`);
          check(!conn.peerEnded, `second ended for ${handle}`);
          check(conn.peer.ended || conn.peer.isReset, `ended for ${handle}, but the peer never ended`);
          conn.peerEnded = true;
          // What the Node host does without allowHalfOpen: end this side too, once its bytes are sent.
          if (!conn.ending && !closing.has(handle)) {
            conn.ending = true;
            check(this.r.end(handle) === 0, `end ${handle} refused after its peer ended`);
            check(this.r.bufferedAmount(handle) > 0 || conn.peer.closed, `end ${handle} after its peer ended: nothing queued, yet open`);
            this.#ended = true;
          }
          break;
        case EventKind.PollFailed:
          check(status < 0 && status !== -EINTR, `poll-failed with status ${status}`);
          this.pollFailures++;
          break;
        default:
          throw new Violation(`unknown event kind ${kind}`);
      }
    }
    return events.length;
  }

  /**
   * The host ended `conn`: once nothing is queued its FIN is out, and its
   * linger timer runs (the `expire` step), as host/poller/conn-ops.ts does after
   * `end` and at each `drained` (which may have been made before the end).
   */
  #lingerIfSent(conn: Conn): void {
    if (this.r.bufferedAmount(conn.handle) !== 0 || conn.peer.closed) return;
    check(conn.peer.engineEnded, `conn ${conn.handle} ended, nothing queued, but no FIN`);
    conn.lingering = true;
  }

  /** The host ends `conn` (`end`), as `conn.end()` does. */
  #end(conn: Conn): void {
    check(this.r.end(conn.handle) === 0, `end ${conn.handle} refused`);
    conn.ending = true;
    this.#lingerIfSent(conn);
  }

  /**
   * What a host may do with released memory: discard its pages. Zeroing
   * them here makes any later read of them by the reactor show up as
   * corrupted bytes.
   */
  #discard(at: number, len: number): void {
    check(at % 4096 === 0 && len % 4096 === 0 && len > 0, `released [${at}, +${len}) is not whole pages`);
    check(at + len <= this.mem.buffer.byteLength, `released [${at}, +${len}) is outside memory`);
    this.mem.u8.fill(0, at, at + len);
    this.released += len;
  }

  #opened(handle: number, detail: number): void {
    if (detail === 0) {
      const conn = this.conns.get(handle);
      check(conn !== undefined && conn.dialed, `opened (added) for unknown handle ${handle}`);
      check(!conn.opened && conn.closes.length === 0, `dial ${handle} opened twice or after closing`);
      conn.opened = true;
      return;
    }
    check(detail === this.lfd + 1, `opened on listener ${detail - 1}`);
    const slot = this.slots.find((s) => s.conn === undefined && s.peer.fd === (handle & FD_MASK) && !s.peer.closed);
    check(slot !== undefined, `opened ${handle}: no peer was accepted on fd ${handle & FD_MASK}`);
    check(!this.conns.has(handle), `handle ${handle} reused while the host still knows it`);
    slot.conn = this.#track(slot, handle, false);
    slot.conn.opened = true;
  }

  #track(slot: PeerSlot, handle: number, dialed: boolean): Conn {
    const conn: Conn = {
      peer: slot.peer, dialed, handle, opened: false, closes: [], ending: false, lingering: false, expired: false, settled: false,
      writeFailed: false, discarded: false, peerEnded: false, spuriousEmpty: false, accepted: [], sent: slot.sent, delivered: [],
    };
    this.conns.set(handle, conn);
    return conn;
  }

  poll(): number {
    let n = this.#pollOnce();
    while (this.r.backlog() > 0 && !this.failed) n += this.#pollOnce();
    return n;
  }

  /** One run-once and its dispatch; a failed epoll-wait stops the reactor, as the Node host does. */
  #pollOnce(): number {
    const taken = this.kernel.taken.length;
    const failures = this.pollFailures;
    this.#ended = false;
    let n = this.dispatch(this.r.runOnce(0));
    // Ending a connection while dispatching may close it: the Node host delivers that right after.
    if (this.#ended) n += this.take();
    const hard = this.kernel.taken.slice(taken).filter((f) => f.call === 'epoll-wait' && f.errno !== -EINTR).length;
    const failedNow = this.pollFailures - failures;
    check(failedNow === hard, `${hard} epoll-wait failures, ${failedNow} poll-failed events`);
    if (failedNow > 0) {
      this.failed = true;
      this.r.shutdown();
      this.take();
    }
    return n;
  }

  /** Dispatches the events calls made since the last list caused (and those its dispatch causes). */
  take(): number {
    let n = 0;
    do {
      this.#ended = false;
      n += this.dispatch(this.r.takeEvents());
    } while (this.#ended);
    return n;
  }

  /** The connection the host may use: opened, not closed, not ending. */
  #open(conn: Conn | undefined): conn is Conn {
    return conn !== undefined && conn.opened && conn.closes.length === 0 && !conn.ending;
  }

  step(a: Action): void {
    const slot = 'peer' in a && this.slots.length > 0 ? this.slots[a.peer % this.slots.length] : undefined;
    const conn = slot?.conn;
    // A dial in progress ends only by `establish` or `refuse`.
    const connecting = conn !== undefined && conn.dialed && !conn.opened;
    switch (a.kind) {
      case 'connect':
        this.slots.push({ peer: this.kernel.connectPeer(this.lfd, a.capacity), conn: undefined, done: false, sent: [] });
        return;
      case 'dial': {
        const peer = this.kernel.dial(a.capacity);
        const h = this.r.addConn(peer.fd!, 1);
        check(h > 0, `add-conn failed: ${h}`);
        const added: PeerSlot = { peer, conn: undefined, done: false, sent: [] };
        added.conn = this.#track(added, h, true);
        this.slots.push(added);
        return;
      }
      case 'establish':
        if (conn?.dialed && !conn.opened && conn.closes.length === 0 && !slot!.done) conn.peer.establish();
        return;
      case 'refuse':
        if (conn?.dialed && !conn.opened && conn.closes.length === 0 && !slot!.done) {
          conn.peer.refuse(a.errno);
          slot!.done = true;
        }
        return;
      case 'send':
        if (slot && !slot.done && !slot.peer.isReset && !slot.peer.aborted && !slot.peer.closed) {
          const data = bytes(this.slots.indexOf(slot) + 1, slot.sent.length, a.len);
          slot.peer.send(Uint8Array.from(data));
          slot.sent.push(...data);
        }
        return;
      case 'drain':
        slot?.peer.drain(a.n);
        return;
      case 'end':
        if (slot && !slot.done && !connecting) {
          slot.peer.end();
          slot.done = true;
        }
        return;
      case 'reset':
        if (slot && !slot.done && !connecting) {
          slot.peer.reset();
          slot.done = true;
        }
        return;
      case 'fail':
        if (slot && !slot.done && !connecting) {
          slot.peer.fail(a.errno);
          slot.done = true;
        }
        return;
      case 'write':
        if (this.#open(conn)) this.#write(conn, 1000 + this.slots.indexOf(slot!), a.len);
        return;
      case 'close':
        if (conn !== undefined && conn.closes.length === 0 && (conn.opened || conn.dialed)) {
          check(this.r.close(conn.handle, CloseCause.Local) === 0, `close ${conn.handle} refused`);
          conn.discarded = true;
          this.take();
          const closes: number = conn.closes.length; // take() delivered the closed event
          check(closes === 1, `close ${conn.handle}: no closed event`);
        }
        return;
      case 'shut':
        if (this.#open(conn)) {
          this.#end(conn);
          this.take();
        }
        return;
      case 'expire':
        if (conn?.lingering && conn.closes.length === 0) {
          const taken = this.kernel.taken.length;
          check(this.r.close(conn.handle, CloseCause.Local) === 0, `close ${conn.handle} refused at its linger time-out`);
          conn.expired = true;
          conn.spuriousEmpty = this.kernel.taken.slice(taken).some((f) => f.call === 'read' && f.errno === -EAGAIN);
          this.take();
          const closes: number = conn.closes.length;
          check(closes === 1, `close ${conn.handle} at its linger time-out: no closed event`);
        }
        return;
      case 'poll':
        this.poll();
        return;
      case 'take':
        this.take();
        return;
      case 'resume':
        this.#resume();
        return;
      case 'fault':
        if (a.call === 'read' || a.call === 'write') {
          const fd = slot?.peer.fd;
          if (fd !== undefined && !slot!.peer.closed) this.kernel.inject({ call: a.call, fd, errno: a.errno, limit: a.limit });
        } else {
          this.kernel.inject({ call: a.call, errno: a.errno });
        }
        return;
      case 'report':
        if (conn !== undefined) {
          // A live connection may be woken up for nothing, but never told
          // it is writable before its connect completed.
          const spurious = connecting ? EPOLLIN | EPOLLPRI : EPOLLIN | EPOLLOUT | EPOLLPRI;
          this.kernel.report(conn.handle, conn.closes.length === 0 ? a.events & spurious : a.events);
        }
        return;
    }
  }

  #write(conn: Conn, stream: number, len: number): void {
    const data = bytes(stream, conn.accepted.length, len);
    const ptr = this.mem.alloc(1, len);
    if (ptr === 0) {
      // No memory for the bytes: the host fails the connection, as the Node host does.
      check(this.tight, `cabi_realloc of ${len} bytes failed without a tight memory limit`);
      check(this.r.close(conn.handle, CloseCause.WriteOverflow) === 0, `close ${conn.handle} refused`);
      conn.writeFailed = true;
      this.overflows++;
      this.take();
      return;
    }
    this.mem.u8.set(data, ptr);
    const rc = this.r.write(conn.handle, ptr, len);
    if (rc === len) {
      conn.accepted.push(...data);
      return;
    }
    // The reactor closed the connection (overflow, a failed socket), maybe
    // after the kernel took the first part of `data`.
    check(rc < 0 && rc !== -9, `write to ${conn.handle} returned ${rc} for ${len} bytes`);
    check(conn.peer.isReset || rc === -ENOBUFS, `write to healthy ${conn.handle} failed with ${rc}`);
    if (rc === -ENOBUFS) this.overflows++;
    conn.accepted.push(...data);
    conn.writeFailed = true;
    this.take();
    check(conn.closes.length === 1, `write to ${conn.handle} failed (${rc}) without a closed event`);
  }

  #resume(): void {
    for (const lfd of this.paused) check(this.r.resumeListener(lfd) === 0, `resume-listener ${lfd} failed`);
    this.paused.clear();
  }

  /**
   * Lets everything finish: faults cleared, listeners resumed, dials
   * established, peers reading, polls until nothing happens; then ends
   * every open connection gracefully; every peer that has not ended its
   * side answers the FIN with its own (as a peer reading to the end does),
   * and polls go on until all of them closed.
   */
  settle(): void {
    if (this.failed) return;
    this.kernel.clearFaults();
    this.#resume();
    for (const s of this.slots) {
      if (s.conn?.dialed && !s.conn.opened && !s.done) s.peer.establish();
      s.peer.drain(1 << 24);
    }
    this.#quiesce();
    for (const conn of this.conns.values()) {
      if (!this.#open(conn)) continue;
      conn.settled = true;
      this.#end(conn);
    }
    if (this.failed) return;
    this.take();
    this.#quiesce();
    if (this.failed) return;
    for (const s of this.slots) {
      if (s.done || s.conn === undefined || s.conn.closes.length > 0) continue;
      check(s.peer.engineEnded, `peer ${this.slots.indexOf(s)}: its connection was ended and went quiet without a FIN`);
      s.peer.end();
      s.done = true;
    }
    this.#quiesce();
  }

  #quiesce(): void {
    for (let i = 0; ; i++) {
      check(i < 200_000, 'the reactor never went quiet');
      const n = this.poll();
      if (this.failed) return;
      if (n === 0 && this.r.backlog() === 0 && this.paused.size === 0) return;
      this.#resume();
    }
  }
}

/**
 * Runs `schedule` `rounds` times on one reactor (each round on new peers,
 * after everything of the previous one closed), then shuts the reactor
 * down. Throws a {@link Violation} at the first broken invariant.
 */
export function runSchedule(schedule: Schedule, rounds = 1): RunResult {
  const host = new Host(schedule);
  const memory: number[] = [];
  const inUse: number[] = [];
  let conns = 0;
  for (let round = 0; round < rounds && !host.failed; round++) {
    host.slots = [];
    host.conns = new Map();
    for (const a of schedule.actions) {
      host.step(a);
      if (host.failed) break;
    }
    host.settle();
    checkEnd(host);
    conns += host.conns.size;
    host.mem.sync();
    memory.push(host.mem.buffer.byteLength);
    inUse.push(host.r.memoryInUse());
  }
  host.r.shutdown();
  const closedAtShutdown = host.take();
  check(host.failed || closedAtShutdown === 0, `shutdown reported ${closedAtShutdown} events after everything closed`);
  check(host.kernel.openFds().length === 0, `descriptors left open after shutdown: ${host.kernel.openFds().join(' ')}`);
  return { memory, inUse, conns, overflows: host.overflows, released: host.released };
}
