/**
 * The errors nbio-wasm raises: `NbioError` with its stable `ERR_NBIO_...`
 * codes, system errors in Node's form, and errors passed between threads.
 */
import { getSystemErrorName } from 'node:util';

/**
 * Stable codes of the errors nbio-wasm creates itself. System call failures
 * are reported as {@link SystemError}s with Node's own codes instead.
 */
export type NbioErrorCode =
  /** The connection (or engine) is closed; nothing more can be written. */
  | 'ERR_NBIO_CLOSED'
  /** Queuing a write would exceed `maxWriteBufferSize`; the connection was closed. */
  | 'ERR_NBIO_WRITE_OVERFLOW'
  /**
   * A `conn.toStream()` stream only: the peer closed the connection before
   * taking what the stream wrote. (`onClose` reports an orderly close by
   * the peer with `err` undefined and `conn.closeReason` `'peer'`.)
   */
  | 'ERR_NBIO_EOF'
  /** `dial` did not connect within its `timeout`. */
  | 'ERR_NBIO_DIAL_TIMEOUT'
  /** The connection's read deadline passed; it was closed. */
  | 'ERR_NBIO_READ_TIMEOUT'
  /** The connection's write deadline passed with bytes still queued; it was closed. */
  | 'ERR_NBIO_WRITE_TIMEOUT'
  /** The connection stayed paused `pausedHangUpTimeout` after its peer hung up; it was closed. */
  | 'ERR_NBIO_PAUSED_TIMEOUT'
  /** An engine option, a dial option or a handlers module is invalid. */
  | 'ERR_NBIO_INVALID_OPTION'
  /** A call got an argument of the wrong kind or size (e.g. `conn.write(undefined)`). */
  | 'ERR_NBIO_INVALID_ARG'
  /**
   * A `data` view from `onData` was used after its handler returned (or
   * after the engine's memory grew under it): its bytes are gone.
   */
  | 'ERR_NBIO_STALE_VIEW'
  /** An address is malformed or names an unsupported network. */
  | 'ERR_NBIO_INVALID_ADDRESS'
  /** The engine is not running (not started yet, or stopped). */
  | 'ERR_NBIO_NOT_RUNNING'
  /** `start` was called on an engine that was already started. */
  | 'ERR_NBIO_ALREADY_STARTED'
  /** The call is not available for this connection: `conn.toStream()` on a connection a plugin serves. */
  | 'ERR_NBIO_NOT_SUPPORTED'
  /** A plugin could not be read, or was refused (not a plugin component, forbidden imports, over a cap), or its `init` failed. */
  | 'ERR_NBIO_PLUGIN_LOAD'
  /** A plugin instance trapped (or broke the rules of its world); its connections were closed. */
  | 'ERR_NBIO_PLUGIN_TRAP'
  /** A plugin instance ran out of fuel for an event, or grew its memory past `maxMemory`; its connections were closed. */
  | 'ERR_NBIO_PLUGIN_LIMIT'
  /** The plugin failed more than `maxRestarts` times and serves no more connections. */
  | 'ERR_NBIO_PLUGIN_DISABLED'
  /**
   * The reactor (WebAssembly) trapped or failed: the engine closed every
   * descriptor it had and stopped; `cause` is the trap.
   */
  | 'ERR_NBIO_REACTOR_FAULT'
  /**
   * A poller stopped working: its epoll instance failed, or its worker
   * thread died. Its connections were closed; `cause` says why.
   */
  | 'ERR_NBIO_POLLER_FAILED';

/** An error created by nbio-wasm, identified by its stable `code`. */
export class NbioError extends Error {
  readonly code: NbioErrorCode;

  constructor(code: NbioErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NbioError';
    this.code = code;
  }
}

/**
 * A failed system call, shaped like Node's own system errors: `code` is the
 * errno name ('ECONNRESET'), `errno` the negated errno number (-104),
 * `syscall` the call that failed ('read').
 */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

/** What `onClose` and rejected promises report: an error of nbio-wasm's own, or a failed system call. */
export type EngineError = NbioError | SystemError;

/** Builds a {@link SystemError} from a negated errno returned by the shim or the reactor. */
export function systemError(negatedErrno: number, syscall: string, address?: string, port?: number): SystemError {
  const code = errnoName(negatedErrno);
  const where = address === undefined ? '' : port === undefined ? ` ${address}` : ` ${address}:${port}`;
  const err = new Error(`${syscall} ${code}${where}`) as SystemError;
  err.code = code;
  err.errno = negatedErrno;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

/**
 * Builds an error without capturing a stack trace: for errors that report
 * what happened to a connection (a close cause), where the engine's own
 * frames would say nothing and capturing them costs microseconds per close.
 */
export function withoutStack<T extends Error>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** An error as it crosses threads: what is needed to raise it again. */
export interface ErrorMessage {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** A system error's negated errno and failed call. */
  errno?: number;
  syscall?: string;
}

/** Describes an error for another thread. */
export function describeError(error: unknown): ErrorMessage {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { name, message, stack } = error;
  const { code, errno, syscall } = error as { code?: unknown; errno?: unknown; syscall?: unknown };
  return {
    name, message, stack,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof errno === 'number' ? { errno } : {}),
    ...(typeof syscall === 'string' ? { syscall } : {}),
  };
}

/** An Error again from its description. */
export function reviveError(d: ErrorMessage): Error {
  const err = new Error(d.message) as Error & Omit<ErrorMessage, 'name' | 'message'>;
  err.name = d.name;
  if (d.stack !== undefined) err.stack = d.stack;
  if (d.code !== undefined) err.code = d.code;
  if (d.errno !== undefined) err.errno = d.errno;
  if (d.syscall !== undefined) err.syscall = d.syscall;
  return err;
}

function errnoName(negatedErrno: number): string {
  try {
    return getSystemErrorName(negatedErrno);
  } catch {
    return `Unknown system error ${negatedErrno}`;
  }
}

/** An error in a few words, for a message about it: its code (unless its message has it) and message. */
export function summarizeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}
