/**
 * Guest faults and poller failures as errors: the barrier around the
 * reactor's exports that contains a trap, and the errors a failed poller
 * reports.
 */
import { NbioError, systemError } from '../api/errors.js';

/**
 * Containment of guest faults, the host's side.
 *
 * The reactor is a WebAssembly instance: a trap inside it (unreachable,
 * an out-of-bounds access, a stack overflow), or an exception thrown
 * through it, unwinds out of whichever export was called, from wherever it
 * was called (a handler's `conn.write`, a timer, the poll loop). Left
 * alone, that exception reaches application code or kills the process,
 * and the instance, now in an unknown state, would be called again.
 *
 * {@link guardExports} puts a barrier around every export: the first
 * exception marks the instance dead and is reported once to `onFault`;
 * from then on no export enters the instance again, and every call
 * returns a neutral value (see {@link DEAD}) so that the caller goes on as
 * if the connection or the poller were gone. The poller then closes what
 * the reactor owned at the host level and reports the fault (see
 * host/poller/containment.ts).
 */

/** What a guarded export returns once the instance is dead: -EBADF, "not a live handle / nothing there". */
export const DEAD = -9;

/** Called once, with what the instance threw. */
export type FaultSink = (error: unknown) => void;

/**
 * Wraps every function of `exports` (keyed by export name) so that an
 * exception marks the instance dead and goes to `onFault` instead of to
 * the caller; after that, no function enters the instance. A dead
 * function returns {@link DEAD}, or its value in `neutral` (0 for
 * `cabi_realloc`: no memory). Other values are passed through.
 */
export function guardExports(
  exports: Record<string, unknown>,
  onFault: FaultSink,
  neutral: Record<string, number> = {},
): Record<string, unknown> {
  let dead = false;
  const failed = (error: unknown): void => {
    dead = true;
    onFault(error);
  };
  // One wrapper per arity, with plain parameters: no rest array on the hot
  // path (a write per message), and V8 inlines them.
  const guard = (f: (...args: number[]) => number, none: number): ((...args: number[]) => number) => {
    switch (f.length) {
      case 0:
        return () => { if (dead) return none; try { return f(); } catch (e) { failed(e); return none; } };
      case 1:
        return (a) => { if (dead) return none; try { return f(a); } catch (e) { failed(e); return none; } };
      case 2:
        return (a, b) => { if (dead) return none; try { return f(a, b); } catch (e) { failed(e); return none; } };
      case 3:
        return (a, b, c) => { if (dead) return none; try { return f(a, b, c); } catch (e) { failed(e); return none; } };
      default:
        return (...args) => { if (dead) return none; try { return f(...args); } catch (e) { failed(e); return none; } };
    }
  };
  const guarded: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(exports)) {
    guarded[name] = typeof value === 'function' ? guard(value as (...args: number[]) => number, neutral[name] ?? DEAD) : value;
  }
  return guarded;
}

/** The error connections of a faulted reactor are closed with, and the engine reports. */
export function reactorFault(cause: unknown): NbioError {
  const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return new NbioError('ERR_NBIO_REACTOR_FAULT', `the reactor failed (${what}); the engine closed everything and stopped`, { cause });
}

/**
 * The error of a poller that can no longer work: `epoll_wait` failed, or
 * libuv reported an error on the epoll descriptor (`errno` negated), or
 * its thread died (`cause`).
 */
export function pollerFailed(reason: string, cause: unknown): NbioError {
  return new NbioError('ERR_NBIO_POLLER_FAILED', `a poller failed: ${reason}`, { cause });
}

/** {@link pollerFailed} for a failed system call on the epoll descriptor. */
export function pollerSyscallFailed(negatedErrno: number, syscall: string): NbioError {
  const cause = systemError(negatedErrno, syscall);
  return pollerFailed(`${syscall} on its epoll descriptor failed with ${cause.code}`, cause);
}
