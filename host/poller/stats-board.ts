/**
 * The figures and load of an engine's worker pollers in shared memory,
 * written by each worker and read without locks by the engine's thread.
 */
import { ClosedCountLayout, ListLayout, ReactorStatsBounds, ReactorStatsLayout } from '../generated/abi.js';
import { readReactorStats, type ReactorStats } from '../api/stats.js';

/** Most entries of a `reactor-stats` record's `closed` list (the bound wit/nbio-engine.wit gives). */
const CLOSED_MAX = ReactorStatsBounds.closed;

/**
 * One copy of a poller's figures: a `reactor-stats` record in its
 * canonical-ABI layout (host/generated/abi.ts), then its `closed` list.
 */
const COPY_BYTES = ReactorStatsLayout.size + CLOSED_MAX * ClosedCountLayout.size;

/** Where a record's `closed` list address and length are, in 32-bit words from the record's start. */
const LIST_PTR_WORD = (ReactorStatsLayout.closed + ListLayout.ptr) / 4;
const LIST_LEN_WORD = (ReactorStatsLayout.closed + ListLayout.len) / 4;

/** 32-bit words of a record, and of one entry of its `closed` list. */
const RECORD_WORDS = ReactorStatsLayout.size / 4;
const ENTRY_WORDS = ClosedCountLayout.size / 4;

/**
 * A poller's slot starts with five Int32 words (padded to keep the
 * records 8-byte aligned): the generation published last, one sequence
 * number per copy (odd while that copy is being written), then the two
 * load counters (see {@link StatsBoard.setLive}).
 */
const HEADER_BYTES = 24;
const GENERATION = 0;
const SEQUENCE = 1;
/** The poller's live connections after its last dispatch. */
const LIVE = 3;
/** Descriptors it took over so far (a running total). */
const ADOPTED = 4;

const SLOT_BYTES = HEADER_BYTES + 2 * COPY_BYTES;

/**
 * The figures of an engine's worker pollers, in shared memory: each worker
 * copies its reactor's `reactor-stats` record, as the reactor returned it,
 * into its own slot (host/poller/poller.ts, `publishStats`), and the engine's
 * thread reads every slot synchronously in `engine.stats()`.
 *
 * A slot holds two copies. A worker writes the copy not published (its
 * sequence number odd meanwhile), then publishes it by bumping the
 * generation; a reader takes the copy the generation names and keeps it
 * only if that copy's sequence number was even and unchanged around the
 * read, else reads again (the worker published twice meanwhile). So a
 * read is never torn, takes no lock, and a worker that dies mid-write
 * leaves its last published figures readable. A publish copies a few
 * dozen words and allocates nothing.
 *
 * Why that holds under the JavaScript memory model, not only on x86:
 * every word of a slot, figures included, is written and read with
 * `Atomics` (sequentially consistent), never with plain accesses. Plain
 * accesses that race (a reader copying words a writer is rewriting) may
 * be reordered around the sequence checks, so a reader could keep words
 * written after the sequence number it checked. With every access
 * atomic, all of them fall in one total order that agrees with each
 * thread's program order: a reader that saw any word of a newer write has
 * its second sequence check ordered after that write's first increment,
 * sees the number changed, and reads again.
 */
export class StatsBoard {
  /** The shared memory, to hand to the workers. */
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  /** Where a read copies a slot's words before decoding them (this thread's own memory). */
  readonly #copy = new Int32Array(COPY_BYTES / 4);
  readonly #copyView = new DataView(this.#copy.buffer);

  /** A board of `slots` slots, or the one another thread made (`buffer`). */
  constructor(slots: number | SharedArrayBuffer) {
    this.buffer = typeof slots === 'number' ? new SharedArrayBuffer(slots * SLOT_BYTES) : slots;
    this.#words = new Int32Array(this.buffer);
  }

  /**
   * Publishes in slot `slot` the `reactor-stats` record at byte address
   * `ptr` of `memory` (a reactor's memory as 32-bit words: the record and
   * its list are 8-byte aligned), with its `closed` list: the one writer
   * of that slot calls this. The copy's list address is where the list is
   * in the copy, in bytes from the copy's start.
   */
  publish(slot: number, memory: Int32Array, ptr: number): void {
    const words = this.#words;
    const header = (slot * SLOT_BYTES) / 4;
    const generation = Atomics.load(words, header + GENERATION);
    const copy = (generation + 1) & 1;
    const sequence = header + SEQUENCE + copy;
    Atomics.add(words, sequence, 1);
    const from = ptr / 4;
    const to = copyAt(slot, copy) / 4;
    for (let i = 0; i < RECORD_WORDS; i++) Atomics.store(words, to + i, memory[from + i]);
    const listFrom = (memory[from + LIST_PTR_WORD] >>> 0) / 4;
    const listLen = Math.min(memory[from + LIST_LEN_WORD], CLOSED_MAX);
    for (let i = 0; i < listLen * ENTRY_WORDS; i++) Atomics.store(words, to + RECORD_WORDS + i, memory[listFrom + i]);
    Atomics.store(words, to + LIST_PTR_WORD, ReactorStatsLayout.size);
    Atomics.store(words, to + LIST_LEN_WORD, listLen);
    Atomics.add(words, sequence, 1);
    Atomics.store(words, header + GENERATION, generation + 1);
  }

  /**
   * Records that the poller of slot `slot` serves `count` connections
   * (after each dispatch). With {@link countAdopted} it tells the
   * engine's thread a worker's load at once, without waiting for the next
   * publish: connections handed to it and not taken over yet are the
   * engine's thread's own count minus {@link adopted}.
   */
  setLive(slot: number, count: number): void {
    Atomics.store(this.#words, (slot * SLOT_BYTES) / 4 + LIVE, count);
  }

  /** Counts one more descriptor taken over by the poller of slot `slot`, as it takes it. */
  countAdopted(slot: number): void {
    Atomics.add(this.#words, (slot * SLOT_BYTES) / 4 + ADOPTED, 1);
  }

  /** The last count {@link setLive} gave for slot `slot`. */
  live(slot: number): number {
    return Atomics.load(this.#words, (slot * SLOT_BYTES) / 4 + LIVE);
  }

  /** How many descriptors the poller of slot `slot` took over so far. */
  adopted(slot: number): number {
    return Atomics.load(this.#words, (slot * SLOT_BYTES) / 4 + ADOPTED);
  }

  /** The figures last published in slot `slot` (all zero before the first: a zeroed copy reads so). */
  read(slot: number): Readonly<ReactorStats> {
    const words = this.#words;
    const copied = this.#copy;
    const header = (slot * SLOT_BYTES) / 4;
    for (;;) {
      const generation = Atomics.load(words, header + GENERATION);
      const copy = generation & 1;
      const sequence = Atomics.load(words, header + SEQUENCE + copy);
      if ((sequence & 1) !== 0) continue; // rewritten already: a newer copy is published
      const from = copyAt(slot, copy) / 4;
      for (let i = 0; i < RECORD_WORDS; i++) copied[i] = Atomics.load(words, from + i);
      const listLen = Math.min(copied[LIST_LEN_WORD] >>> 0, CLOSED_MAX);
      for (let i = 0; i < listLen * ENTRY_WORDS; i++) copied[RECORD_WORDS + i] = Atomics.load(words, from + RECORD_WORDS + i);
      if (Atomics.load(words, header + SEQUENCE + copy) !== sequence) continue;
      // A zeroed copy (nothing published yet) has no list address: its list is empty anyway.
      copied[LIST_PTR_WORD] = ReactorStatsLayout.size;
      return readReactorStats(this.#copyView, 0);
    }
  }
}

/** Byte offset of copy `copy` of slot `slot`. */
function copyAt(slot: number, copy: number): number {
  return slot * SLOT_BYTES + HEADER_BYTES + copy * COPY_BYTES;
}
