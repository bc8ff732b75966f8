// The host a fault-injection run plays, the way host/poller/poller.ts
// does: the reactor's core module on the fast path (lowerSys) over the
// in-memory kernel, every event it returns checked as it is dispatched,
// polls and takes as the Node host makes them, and settling a round so that
// its end state can be checked (test/reactor/fault/end-state.ts).
import { EventKind, FD_MASK } from '../../../host/generated/abi.js';
import { GuestMemory } from '../../../host/guest/memory.js';
import { type Reactor } from '../../../host/guest/reactor.js';
import { instantiateReactor } from '../../../host/poller/reactor-loader.js';
import { readEvents } from '../reactor-events.js';
import { EINTR } from '../kernel/linux-numbers.js';
import { FakeKernel } from '../kernel/fake.js';
import { lowerSys } from '../kernel/lower.js';
import { type Conn, type PeerSlot, type Round, Violation, check } from './end-state.js';
import type { Schedule } from './schedule.js';

/** The reactor over the in-memory kernel, and what the host knows and checks of it. */
export class Host implements Round {
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
  end(conn: Conn): void {
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
    slot.conn = this.track(slot, handle, false);
    slot.conn.opened = true;
  }

  /** Starts tracking a connection the reactor named `handle`. */
  track(slot: PeerSlot, handle: number, dialed: boolean): Conn {
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
  isOpen(conn: Conn | undefined): conn is Conn {
    return conn !== undefined && conn.opened && conn.closes.length === 0 && !conn.ending;
  }

  /** Resumes the listeners a failed accept paused. */
  resumeListeners(): void {
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
    this.resumeListeners();
    for (const s of this.slots) {
      if (s.conn?.dialed && !s.conn.opened && !s.done) s.peer.establish();
      s.peer.drain(1 << 24);
    }
    this.#quiesce();
    for (const conn of this.conns.values()) {
      if (!this.isOpen(conn)) continue;
      conn.settled = true;
      this.end(conn);
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
      this.resumeListeners();
    }
  }
}
