/**
 * The checks of `Conn`'s arguments, and the errors its methods throw: what
 * a deadline may be, a count, a flag, a second argument to `write`.
 */
import { NbioError } from './errors.js';

/**
 * Times before this (2001-09-09T01:46:40Z, 1e12 ms since the epoch) are
 * not deadlines an application means: they are durations (`5000`) or
 * seconds (`Date.now() / 1000`) passed where a time belongs.
 */
const EARLIEST_DEADLINE = 1e12;

/** A deadline as ms since the epoch (0: none); throws ERR_NBIO_INVALID_ARG for what cannot be one. */
export function deadlineTime(deadline: Date | number | undefined, method: string): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline ?? 0;
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    throw new NbioError('ERR_NBIO_INVALID_ARG', `${method}() takes a Date, a time in ms since the epoch or undefined, got ${String(deadline)}`);
  }
  if (at !== 0 && at < EARLIEST_DEADLINE) {
    throw new NbioError(
      'ERR_NBIO_INVALID_ARG',
      `${method}(${String(deadline instanceof Date ? deadline.toISOString() : deadline)}) is a point in time, not a duration: ` +
        `${new Date(at).toISOString()} is long past. Pass Date.now() + ms, or use setReadTimeout(ms) for a time-out that counts from the last read`,
    );
  }
  return at;
}

/** The error for a second argument to `write` or `writev`, which take one. */
export function extraArgument(method: string, extra: unknown): NbioError {
  const what = typeof extra === 'function'
    ? 'a callback: nothing would call it; watch conn.bufferedAmount and onDrain to know when the kernel took the bytes'
    : typeof extra === 'string'
      ? `an encoding ('${extra}'): strings are sent as UTF-8; write Buffer.from(s, '${extra}') for another`
      : `${String(extra)}`;
  return new NbioError('ERR_NBIO_INVALID_ARG', `conn.${method}() takes one argument; it was given a second, ${what}`);
}

/** The error for using a connection that is closed. */
export function closedError(): NbioError {
  return new NbioError('ERR_NBIO_CLOSED', 'the connection is closed');
}

/** A boolean argument `name` as the 0 or 1 a socket option takes; throws ERR_NBIO_INVALID_ARG for anything but a boolean. */
export function flag(value: unknown, name: string): number {
  if (typeof value !== 'boolean') throw new NbioError('ERR_NBIO_INVALID_ARG', `${name} must be a boolean, got ${typeof value}`);
  return value ? 1 : 0;
}

/** An argument `name` that counts ms, seconds or bytes; throws ERR_NBIO_INVALID_ARG unless an integer from 0 to 2^31 - 1. */
export function count(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new NbioError('ERR_NBIO_INVALID_ARG', `${name} must be an integer from 0 to 2147483647, got ${String(value)}`);
  }
  return value;
}
