/**
 * What each event of a batch does: opening, data, drains, ends and closes
 * delivered to handlers (or to a connection's stream), dials settled,
 * diagnostics published.
 */
import { decodeSockaddr } from '../api/address.js';
import { closeError, closeReasonOf, dialError } from './close-cause.js';
import type { ConnIndex } from './conn-index.js';
import type { ConnOps } from './conn-ops.js';
import { Conn, ConnState } from '../api/conn.js';
import type { PendingDials } from './dials.js';
import type { EngineError } from '../api/errors.js';
import type { GuestMemory } from '../guest/memory.js';
import type { HeldReads } from './held-reads.js';
import { noop, type Handlers } from '../api/handlers.js';
import type { IdleTimers } from './idle-timers.js';
import type { OpenedConns } from './opened-conns.js';
import type { PollerSettings } from './settings.js';
import { PEER_BIT } from '../generated/abi.js';
import { channels } from '../api/stats.js';
import type { WritePath } from './write-path.js';

/** The parts of a poller that delivering its events touches. */
export interface DeliveryContext {
  handlers: Handlers;
  settings: PollerSettings;
  mem: GuestMemory;
  writer: WritePath;
  conns: ConnIndex;
  held: HeldReads;
  ops: ConnOps;
  dials: PendingDials;
  idle: IdleTimers<Conn> | undefined;
  /** The connections told open and not yet closed (host/poller/opened-conns.ts). */
  opened: OpenedConns;
  /** Whether the poller still runs (a close at stop is reported at once, held bytes or not). */
  running(): boolean;
  /** What to call when a connection's onClose was delivered, or its dial rejected (the poller's `onClosed`), if anything. */
  closed(): ((conn: Conn, err: Error | undefined) => void) | undefined;
}

/**
 * What one poller does with the connection events of its reactor's
 * batches (host/poller/poller.ts dispatches them here): a connection opening
 * (accepted, a UDP peer, a dial or an adoption), its data, its drain, the
 * peer's end, its close; and the delivery, in order, of what paused
 * connections held back (host/poller/held-reads.ts).
 */
export class EventDelivery {
  readonly #c: DeliveryContext;
  /** Connections closed by {@link failWith}, with the error their onClose receives. */
  readonly #failures = new Map<Conn, EngineError>();
  /** A graceful stop began: connections that open from now on are ended after their onOpen. */
  endingAll = false;

  constructor(context: DeliveryContext) {
    this.#c = context;
  }

  /** Closes `conn` now, like `conn.close()`, but its onClose receives `err`. */
  failWith(conn: Conn, err: EngineError): void {
    this.#failures.set(conn, err);
    this.#c.ops.close(conn);
  }

  /** A connection opened: accepted (`acceptedOn` = 1 + the listener), a UDP peer, a dial or an adoption. */
  opened(handle: number, acceptedOn: number, ptr: number, len: number): void {
    const { conns, ops, settings, handlers } = this.#c;
    let conn: Conn | undefined;
    if (handle >= PEER_BIT) {
      const remote = decodeSockaddr(this.#c.mem.u8.subarray(ptr, ptr + len));
      conn = new Conn(ops, handle, ConnState.Open, 'udp', remote);
      conns.addPeer(conn, acceptedOn - 1);
      this.#c.idle?.start(conn);
    } else if (acceptedOn !== 0) {
      conn = new Conn(ops, handle, ConnState.Open, settings.transport);
      conns.add(conn);
    } else {
      conn = conns.get(handle);
      if (conn === undefined) return;
      if (conn.state === ConnState.Connecting) conn.state = ConnState.Open;
    }
    const opened = conn;
    if (settings.keepAlive && conn.transport === 'tcp' && conn.state === ConnState.Open) {
      handlers.call(() => opened.setKeepAlive(true, settings.keepAliveInitialDelay));
    }
    this.#c.opened.add(conn);
    if (channels.open.hasSubscribers) channels.open.publish({ conn });
    if (handlers.onOpen !== noop) handlers.call(() => handlers.onOpen(opened));
    this.#c.dials.take(conn)?.resolve(conn);
    if (this.endingAll) conn.end();
  }

  /** Bytes arrived: `len` bytes at `ptr` in reactor memory, for the connection `handle` names. */
  data(handle: number, ptr: number, len: number): void {
    const { conns, held, mem, writer, handlers } = this.#c;
    const conn = conns.get(handle);
    if (conn === undefined || conn.state === ConnState.Closed) return;
    if (this.#c.idle !== undefined && handle >= PEER_BIT) this.#c.idle.touch(conn);
    this.#c.ops.deadlines.read(conn);
    mem.sync();
    if (conn.paused || held.has(conn)) {
      held.hold(conn, mem.u8.subarray(ptr, ptr + len));
      return;
    }
    const views = writer.views;
    const data = views.deliver(ptr, len);
    // Not through handlers.call: no closure per message on the hot path.
    try {
      (conn.stream ?? handlers).onData(conn, data);
    } catch (error) {
      handlers.capture(error);
    }
    views.done();
  }

  /** A paused connection's peer hung up (the reactor parked it): its time to be resumed is bounded. */
  parked(handle: number): void {
    const conn = this.#c.conns.get(handle);
    if (conn !== undefined && conn.state !== ConnState.Closed) this.#c.ops.parked(conn);
  }

  /** A connection's queue emptied: onDrain; for one that is ending, its FIN went out too: it lingers. */
  drained(handle: number): void {
    const conn = this.#c.conns.get(handle);
    if (conn?.state === ConnState.Ending) return this.#c.ops.lingerIfSent(conn);
    if (conn === undefined || conn.state !== ConnState.Open) return;
    const sink = conn.stream ?? this.#c.handlers;
    if (sink.onDrain !== noop) this.#c.handlers.call(() => sink.onDrain(conn));
  }

  /**
   * The peer ended its side: after the bytes before it, onEnd, then
   * (without allowHalfOpen) this side ends too; a stream's consumer ends
   * it itself (see host/api/conn-stream.ts).
   */
  ended(handle: number): void {
    const conn = this.#c.conns.get(handle);
    if (conn === undefined || conn.state === ConnState.Closed) return;
    if (this.#c.held.holdEnd(conn)) return; // after the held bytes
    this.#finishEnd(conn);
  }

  #finishEnd(conn: Conn): void {
    const sink = conn.stream ?? this.#c.handlers;
    if (sink.onEnd !== noop) this.#c.handlers.call(() => sink.onEnd(conn));
    // Without allowHalfOpen this side ends too. (After closeWrite() both
    // sides have ended: the reactor closes it once the queue is sent.)
    if (conn.stream === undefined && !this.#c.settings.allowHalfOpen && conn.state === ConnState.Open) this.#c.ops.end(conn);
  }

  closed(handle: number, status: number, detail: number): void {
    const { conns, held } = this.#c;
    const conn = conns.get(handle);
    if (conn === undefined) return;
    conns.remove(handle);
    if (handle >= PEER_BIT) this.#c.idle?.clear(conn);
    if (this.#c.running() && conn.state !== ConnState.Closed && held.holdClose(conn, { status, detail })) {
      // Bytes before this close are still held: report it after them.
      conn.state = ConnState.Doomed;
      this.#c.ops.deadlines.clear(conn);
      return;
    }
    held.delete(conn);
    this.finishClose(conn, status, detail);
  }

  /** The connection is gone: rejects its dial, or calls onClose with the cause. */
  finishClose(conn: Conn, status: number, detail: number): void {
    conn.state = ConnState.Closed;
    const failure = this.#failures.get(conn);
    if (failure !== undefined) this.#failures.delete(conn);
    conn.setCloseReason(failure !== undefined ? 'error' : closeReasonOf(status));
    const dial = this.#c.dials.take(conn);
    if (dial !== undefined) {
      const err = dialError(status, detail, dial.target, this.#c.running());
      dial.reject(err);
      this.#c.closed()?.(conn, err);
      return;
    }
    this.#c.opened.delete(conn);
    this.#c.ops.deadlines.clear(conn);
    // The error is made only for someone who receives it (an Error is not cheap).
    const sink = conn.stream ?? this.#c.handlers;
    if (!channels.close.hasSubscribers && sink.onClose === noop && this.#c.closed() === undefined) return;
    this.#tellClosed(conn, failure ?? closeError(status, detail));
  }

  /**
   * The poller failed and `conn` went with it: its dial rejects with `err`,
   * or its onClose receives it (the reactor reports nothing more).
   */
  lost(conn: Conn, err: EngineError): void {
    conn.state = ConnState.Closed;
    conn.setCloseReason('error');
    const dial = this.#c.dials.take(conn);
    if (dial !== undefined) {
      dial.reject(err);
      this.#c.closed()?.(conn, err);
      return;
    }
    this.#c.opened.delete(conn);
    this.#c.ops.deadlines.clear(conn);
    this.#tellClosed(conn, err);
  }

  /** Tells whoever listens that `conn` closed with `err`: the close channel, its onClose (or its stream's), the poller's `onClosed`. */
  #tellClosed(conn: Conn, err: EngineError | undefined): void {
    if (channels.close.hasSubscribers) channels.close.publish({ conn, error: err });
    const sink = conn.stream ?? this.#c.handlers;
    if (sink.onClose !== noop) this.#c.handlers.call(() => sink.onClose(conn, err));
    this.#c.closed()?.(conn, err);
  }

  /** Delivers what resumed (or closed) connections held, then lets the reactor read them again. */
  deliverHeld(): void {
    const { held, handlers } = this.#c;
    for (const conn of held.takeResumed()) {
      const kept = held.get(conn);
      if (kept === undefined) continue;
      while (kept.chunks.length > 0 && !conn.paused && conn.state !== ConnState.Closed) {
        const data = kept.chunks.shift()!;
        const sink = conn.stream ?? handlers;
        handlers.call(() => sink.onData(conn, data));
      }
      if (conn.paused && conn.state !== ConnState.Closed) continue;
      held.delete(conn);
      if (kept.ended && conn.state !== ConnState.Closed) this.#finishEnd(conn);
      if (kept.close !== undefined) this.finishClose(conn, kept.close.status, kept.close.detail);
      else this.#c.ops.resume(conn);
    }
  }
}
