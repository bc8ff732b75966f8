/**
 * The options of `engine.dial` and `engine.stop`, checked
 * (ERR_NBIO_INVALID_OPTION) and with their defaults.
 */
import { NbioError } from './errors.js';
import { checkKnownKeys } from './known-keys.js';

/** Options of `engine.dial`. */
export interface DialOptions {
  /** Give up (rejecting with ERR_NBIO_DIAL_TIMEOUT) after this many milliseconds; 0 or absent: no limit. */
  timeout?: number;
}

/** Options of `engine.stop`. */
export interface StopOptions {
  /**
   * Stop gracefully: close the listeners at once, end every connection
   * (`conn.end()`: queued bytes are still sent) and wait until all have
   * closed, or `timeout` passed, before closing the rest. Default false:
   * close everything now.
   */
  graceful?: boolean;
  /** With `graceful`: most milliseconds to wait; 0 or absent: no limit. */
  timeout?: number;
}

const DIAL_OPTIONS: ReadonlySet<string> = new Set(['timeout']);
const STOP_OPTIONS: ReadonlySet<string> = new Set(['graceful', 'timeout']);

/** The dial time-out in ms (0: none); ERR_NBIO_INVALID_OPTION for an unknown option or a bad value. */
export function dialTimeout(options: DialOptions): number {
  checkKnownKeys(options, DIAL_OPTIONS, 'dial option');
  const timeout = options.timeout ?? 0;
  if (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout)) {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', `timeout must be a number of milliseconds >= 0, got ${String(timeout)}`);
  }
  return timeout;
}

/** `stop`'s options with their defaults; ERR_NBIO_INVALID_OPTION for an unknown option or a bad value. */
export function stopOptions(options: StopOptions): Required<StopOptions> {
  checkKnownKeys(options, STOP_OPTIONS, 'stop option');
  const graceful = options.graceful ?? false;
  const timeout = options.timeout ?? 0;
  if (typeof graceful !== 'boolean') throw new NbioError('ERR_NBIO_INVALID_OPTION', 'graceful must be a boolean');
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0 || timeout > 0x7fffffff) {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', `timeout must be an integer number of milliseconds >= 0, got ${String(timeout)}`);
  }
  return { graceful, timeout };
}
