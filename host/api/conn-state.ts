/**
 * Where a connection is in its lifecycle, as the host tracks it
 * ({@link ConnState}), and why it closed, as the application is told
 * ({@link CloseReason}).
 */

/**
 * Why a connection closed, as `conn.closeReason` says once it has: `local`
 * (this side closed it: `close()`, `end()` or `closeWrite()` before the
 * peer ended, `engine.stop()`), `peer` (the peer ended its side first: an
 * orderly close), `timeout` (a read or write deadline passed), `error` (a
 * reset or another system error, the write buffer overflowing, the engine
 * or a plugin failing). Only `timeout` and `error` come with an `err` in
 * `onClose`.
 */
export type CloseReason = 'local' | 'peer' | 'timeout' | 'error';

/** Lifecycle of a `Conn`, as the host sees it. */
export const ConnState = {
  /** A dialed connection whose connect has not completed; not visible to users yet. */
  Connecting: 0,
  /** Open: reads are delivered, writes go to the reactor. */
  Open: 1,
  /**
   * The reactor closed it (a failed write, the peer ended the stream) and
   * `onClose` is about to report why; writes are dropped silently.
   */
  Doomed: 2,
  /** Closed by `conn.close()`, or `onClose` was delivered: writes throw ERR_NBIO_CLOSED. */
  Closed: 3,
  /**
   * `conn.end()` was called (or the peer ended its side and the engine
   * ended this one): queued bytes are still being sent, then this side's
   * FIN, and it waits for the peer's end (at most `lingerTimeout`); data
   * is still delivered, but writes throw ERR_NBIO_CLOSED.
   */
  Ending: 4,
  /**
   * `conn.closeWrite()` was called: queued bytes are still being sent,
   * then this side is shut; data is delivered until the peer ends too.
   * Writes throw ERR_NBIO_CLOSED; `end()` and `close()` still act.
   */
  WriteClosed: 5,
} as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];
