/**
 * The CPU time the calling thread has used, for an event's time limit
 * (instance.ts): unlike the wall clock, it does not count a stretch when
 * the system runs other processes, and unlike `process.cpuUsage()` it does
 * not count the process's other threads (worker pollers, V8's compilers
 * and collectors). Linux keeps it, in nanoseconds, as the first figure of
 * /proc/thread-self/schedstat; reading it costs about a microsecond, so it
 * is read only while an event runs long, its file open from
 * {@link ThreadClock.start} to {@link ThreadClock.stop}.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const SCHEDSTAT = '/proc/thread-self/schedstat';

export class ThreadClock {
  readonly #buf = Buffer.alloc(64);
  #fd = -1;

  /** Opens the thread's figures (on the thread that reads them); false if the system does not have them. */
  start(): boolean {
    if (this.#fd < 0) {
      try {
        this.#fd = openSync(SCHEDSTAT, 'r');
      } catch {
        return false;
      }
    }
    return true;
  }

  /** Milliseconds of CPU the thread has used (after {@link start} said true). */
  now(): number {
    const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
    const text = this.#buf.toString('latin1', 0, n);
    return Number(text.slice(0, text.indexOf(' '))) / 1e6;
  }

  /** Closes the thread's figures. */
  stop(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}
