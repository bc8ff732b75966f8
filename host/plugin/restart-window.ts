/**
 * The failures of a plugin that count against it: those within the last
 * `restartWindow` milliseconds (Erlang/OTP's restart intensity, systemd's
 * start limit). Both the disabling (`maxRestarts`) and the restart backoff
 * read this count, so a plugin that fails rarely is never disabled by age,
 * and its backoff comes back down once it has run a window without failing.
 */
export class RestartWindow {
  readonly #window: number;
  /** When each failure still in the window happened (performance.now()), oldest first, from #head on. */
  readonly #times: number[] = [];
  #head = 0;

  /** `window`: how long a failure counts, in ms. */
  constructor(window: number) {
    this.#window = window;
  }

  /** Notes a failure now; returns the failures in the window, this one included. */
  record(now = performance.now()): number {
    this.#times.push(now);
    return this.count(now);
  }

  /** The failures within the last `window` ms before `now`. */
  count(now = performance.now()): number {
    const times = this.#times;
    while (this.#head < times.length && now - times[this.#head] >= this.#window) this.#head++;
    if (this.#head > 64 && this.#head * 2 > times.length) {
      times.splice(0, this.#head);
      this.#head = 0;
    }
    return times.length - this.#head;
  }
}
