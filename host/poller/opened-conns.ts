/**
 * The connections of a poller whose `onOpen` ran, counted by descriptor in
 * memory another thread can read, so that a failed poller's connections each
 * get one `onClose`.
 */
import type { Conn } from '../api/conn.js';
import { FD_MASK, PEER_BIT } from '../generated/abi.js';
import { MAX_FDS } from '../sys/owned-fds.js';

/** Where UDP peers are counted, after the descriptors (peers share their socket's). */
const PEERS = MAX_FDS;

/**
 * The connections of one poller whose `onOpen` has run and whose `onClose`
 * has not: those a failure of the poller still owes an `onClose`
 * (host/poller/containment.ts).
 *
 * Kept twice. As a set of `Conn`s, for the poller's own thread. And as a
 * count per descriptor (UDP peers in one count after them) in shared
 * memory, for the engine's thread: if a worker poller's thread dies, its
 * `Conn`s die with it, and the counts tell the engine's thread how many
 * `onClose` are still owed, and for which descriptors. A connection is
 * counted before its `onOpen` is called and uncounted before its `onClose`
 * is, so a thread that dies inside either handler has been told exactly
 * once either way.
 *
 * The counts take 4 MiB of shared memory, which stays virtual except for
 * the pages the used descriptor numbers touch.
 */
export class OpenedConns {
  readonly #conns = new Set<Conn>();
  readonly #counts: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer((PEERS + 1) * Int32Array.BYTES_PER_ELEMENT)) {
    this.#counts = new Int32Array(buffer);
  }

  /** The counts of another thread's poller (read once that thread has ended). */
  static from(buffer: SharedArrayBuffer): OpenedConns {
    return new OpenedConns(buffer);
  }

  /** The shared memory of the counts, to hand to another thread. */
  get buffer(): SharedArrayBuffer {
    return this.#counts.buffer as SharedArrayBuffer;
  }

  /** `conn`'s onOpen is about to run. */
  add(conn: Conn): void {
    if (this.#conns.has(conn)) return;
    this.#conns.add(conn);
    Atomics.add(this.#counts, slotOf(conn), 1);
  }

  /** `conn`'s onClose is about to run (or it will never have one). */
  delete(conn: Conn): void {
    if (this.#conns.delete(conn)) Atomics.sub(this.#counts, slotOf(conn), 1);
  }

  /** Takes every connection still owed an onClose, forgetting them. */
  take(): Conn[] {
    const conns = [...this.#conns];
    for (const conn of conns) this.delete(conn);
    return conns;
  }

  /**
   * What the counts say is still owed, forgetting it: per descriptor
   * (`fd` -1 for UDP peers), how many connections on it were opened and
   * not closed. For the engine's thread, once the worker has ended.
   */
  takeCounts(): Array<{ fd: number; count: number }> {
    const counts = this.#counts;
    const owed: Array<{ fd: number; count: number }> = [];
    for (let slot = 0; slot <= PEERS; slot++) {
      if (counts[slot] === 0) continue;
      const count = Atomics.exchange(counts, slot, 0);
      if (count > 0) owed.push({ fd: slot === PEERS ? -1 : slot, count });
    }
    return owed;
  }
}

function slotOf(conn: Conn): number {
  return conn.handle >= PEER_BIT ? PEERS : conn.handle & FD_MASK;
}
