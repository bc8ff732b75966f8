/**
 * Reading one batch of events out of reactor memory and handing each to the
 * poller's delivery, in order, with the reactor's syscall failures turned
 * into a poller failure.
 */
import type { ConnIndex } from './conn-index.js';
import { ConnState } from '../api/conn.js';
import type { NbioError } from '../api/errors.js';
import type { EventDelivery } from './event-delivery.js';
import { pollerSyscallFailed } from './fault.js';
import type { GuestMemory } from '../guest/memory.js';
import { EventKind } from '../generated/abi.js';
import { native } from '../sys/native.js';
import { EventWords, ListWords } from '../guest/reactor.js';

/** The parts of a poller that dispatching its reactor's batches touches. */
export interface BatchContext {
  mem: GuestMemory;
  conns: ConnIndex;
  deliver: EventDelivery;
  /** Whether the poller failed for good: no more events are delivered. */
  failed(): boolean;
  /** Fails the poller (host/poller/poller.ts, "Failure"). */
  fail(err: NbioError): void;
  /** A listener stopped accepting after `accept` failed with `errno` (negated): retry later. */
  listenerPaused(listenerFd: number, errno: number): void;
  /** An acceptor of the poller accepted `fd` (the poller's `onAccepted`). */
  accepted(fd: number): void;
}

/**
 * Reads a batch of events out of reactor memory and hands each to its
 * poller: connection events to host/poller/event-delivery.ts, the others to the
 * poller itself. Runs once per `run-once` and `take-events`: it allocates
 * nothing itself.
 */
export class BatchDispatch {
  readonly #c: BatchContext;

  constructor(context: BatchContext) {
    this.#c = context;
  }

  /**
   * Delivers one batch (`ret` addresses its {ptr, len} in reactor memory).
   * The reactor keeps the listed records and their `data` bytes in place
   * until the next `run-once` or `take-events`, even when a handler makes
   * it grow its memory or append events; only the view must be refreshed
   * after a handler ran.
   */
  dispatch(ret: number): void {
    const c = this.#c;
    // A list from a dead reactor (a guarded call returned DEAD) is empty.
    if (ret < 0 || c.failed()) return;
    const mem = c.mem;
    mem.sync();
    const w = ret >>> 2;
    const first = mem.i32[w + ListWords.ptr] >>> 2;
    const end = first + mem.i32[w + ListWords.len] * EventWords.size;
    this.#prepare(first, end);
    const deliver = c.deliver;
    for (let p = first; p < end && !c.failed(); p += EventWords.size) {
      mem.sync();
      const events = mem.i32;
      const handle = events[p + EventWords.conn] >>> 0;
      switch (events[p + EventWords.kind] & 0xff) {
        case EventKind.Data:
          // A non-zero status: a datagram cut to readBufferSize.
          if (events[p + EventWords.status] !== 0) c.conns.get(handle)?.countTruncated();
          deliver.data(handle, events[p + EventWords.dataPtr] >>> 0, events[p + EventWords.dataLen] >>> 0);
          break;
        case EventKind.Opened:
          deliver.opened(handle, events[p + EventWords.detail], events[p + EventWords.dataPtr] >>> 0, events[p + EventWords.dataLen] >>> 0);
          break;
        case EventKind.Closed:
          deliver.closed(handle, events[p + EventWords.status], events[p + EventWords.detail]);
          break;
        case EventKind.Ended:
          deliver.ended(handle);
          break;
        case EventKind.ListenerPaused:
          c.listenerPaused(events[p + EventWords.detail], events[p + EventWords.status]);
          break;
        case EventKind.Drained:
          deliver.drained(handle);
          break;
        case EventKind.Accepted:
          c.accepted(events[p + EventWords.detail]);
          break;
        case EventKind.Parked:
          deliver.parked(handle);
          break;
      }
    }
  }

  /**
   * Before any handler of a batch runs: connections closed by the reactor
   * in this batch are doomed from the start of its dispatch (even a dial
   * that opened and closed in the same batch): their descriptor is already
   * closed (and may be reused by a connection accepted in the same batch),
   * so no handler may write to them or look up their addresses. Memory the
   * reactor released is discarded now, while it is sure to be unused; a
   * failed epoll_wait fails the poller.
   */
  #prepare(first: number, end: number): void {
    const { mem, conns } = this.#c;
    const events = mem.i32;
    for (let p = first; p < end; p += EventWords.size) {
      switch (events[p + EventWords.kind] & 0xff) {
        case EventKind.Closed: {
          const conn = conns.get(events[p + EventWords.conn] >>> 0);
          if (conn !== undefined && (conn.state === ConnState.Open || conn.state === ConnState.Connecting)) {
            conn.state = ConnState.Doomed;
          }
          break;
        }
        case EventKind.Released:
          native.discard(mem.buffer, events[p + EventWords.conn] >>> 0, events[p + EventWords.detail] >>> 0);
          break;
        case EventKind.PollFailed:
          this.#c.fail(pollerSyscallFailed(events[p + EventWords.status], 'epoll_wait'));
          break;
      }
    }
  }
}
