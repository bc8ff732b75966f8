/**
 * What one poller tells `engine.stats()`: its reactor's counters while it
 * works, the last ones read once it failed, and their publication on the
 * stats board.
 */
import type { GuestMemory } from '../guest/memory.js';
import type { Reactor } from '../guest/reactor.js';
import type { StatsBoard } from './stats-board.js';
import { NO_STATS, readReactorStats, type PollerStats, type ReactorStats } from '../api/stats.js';

/**
 * What one poller's reactor counted (host/api/stats.ts), as the poller tells
 * it: read from the reactor while it works; once the poller failed, the
 * figures read last (when it failed, if its reactor could still answer),
 * with the failure's code (host/api/stats.ts says how those count). A worker
 * poller also publishes them for the engine's thread (host/poller/stats-board.ts).
 */
export class PollerFigures {
  readonly #reactor: Reactor;
  readonly #mem: GuestMemory;
  #last: Readonly<ReactorStats> = NO_STATS;
  /** The code of the failure the figures stopped at, once the poller failed. */
  #failedWith: string | undefined;

  constructor(reactor: Reactor, mem: GuestMemory) {
    this.#reactor = reactor;
    this.#mem = mem;
  }

  /** The figures now (see the class doc). */
  get current(): PollerStats {
    if (this.#failedWith === undefined) this.#read();
    return { reactor: this.#last, failedWith: this.#failedWith };
  }

  /** The poller failed with `code`: the figures stay as they are now (or as last read, if the reactor is dead). */
  freeze(code: string): void {
    if (this.#failedWith !== undefined) return;
    this.#read();
    this.#failedWith = code;
  }

  /** Copies what the reactor counted into `slot` of `board`; nothing once the poller failed (the board keeps what it had). */
  publish(board: StatsBoard, slot: number): void {
    if (this.#failedWith !== undefined) return;
    const ptr = this.#reactor.stats();
    if (ptr <= 0) return;
    this.#mem.sync();
    board.publish(slot, this.#mem.i32, ptr);
  }

  #read(): void {
    const ptr = this.#reactor.stats();
    // A dead reactor answers a negated errno instead of an address.
    if (ptr <= 0) return;
    this.#mem.sync();
    this.#last = readReactorStats(this.#mem.buffer, ptr);
  }
}
