/**
 * Listeners paused by a failed accept (EMFILE and the like): reported to
 * `onAcceptError`, re-armed after a pause.
 */
import { systemError, withoutStack } from '../api/errors.js';
import { noop, type Handlers } from '../api/handlers.js';
import { ERRNO } from '../sys/native.js';

/** Pause before re-arming a listener whose accept failed (EMFILE and the like). */
const LISTENER_RETRY_MS = 50;

/**
 * The listeners of one poller that stopped accepting because `accept`
 * failed (EMFILE, ENFILE, ENOMEM…), each re-armed after
 * {@link LISTENER_RETRY_MS} (waiting connections stay in the kernel's
 * backlog meanwhile), and paused again if accepting fails again; each
 * failure is told to `onAcceptError` (a system error, syscall 'accept'). A
 * listener removed meanwhile (a graceful stop closes them first) is not
 * re-armed: {@link cancel} forgets it, and one the reactor no longer has
 * (EBADF on re-arming) is dropped without a report.
 */
export class ListenerRetries {
  readonly #timers = new Map<number, NodeJS.Timeout>();
  readonly #resume: (fd: number) => number;
  readonly #handlers: Handlers;

  /** `resume` re-arms a listener (0, or a negated errno: accepting failed again). */
  constructor(resume: (fd: number) => number, handlers: Handlers) {
    this.#resume = resume;
    this.#handlers = handlers;
  }

  /** The listener `fd` paused after accept failed with `errno` (negated): tells onAcceptError, re-arms it later. */
  paused(fd: number, errno: number): void {
    const handlers = this.#handlers;
    const onAcceptError = handlers.onAcceptError;
    if (onAcceptError !== noop) {
      const err = withoutStack(() => systemError(errno, 'accept'));
      handlers.call(() => onAcceptError(err));
    }
    clearTimeout(this.#timers.get(fd));
    const timer = setTimeout(() => {
      this.#timers.delete(fd);
      const rc = this.#resume(fd);
      if (rc < 0 && rc !== -ERRNO.EBADF) this.paused(fd, rc);
    }, LISTENER_RETRY_MS);
    this.#timers.set(fd, timer);
  }

  /** The listener `fd` is gone: no retry. */
  cancel(fd: number): void {
    clearTimeout(this.#timers.get(fd));
    this.#timers.delete(fd);
  }

  /** No retry at all (the poller stops). */
  clearAll(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
