import type { AddressInfo } from './address.js';
import type { ConnStream, ConnStreamOptions } from './conn-stream.js';
import { NbioError } from './errors.js';
import type { Chunk } from './write-path.js';

/** Lifecycle of a {@link Conn}, as the host sees it. */
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
   * `conn.end()` was called: queued bytes are still being sent and data is
   * still delivered, but writes throw ERR_NBIO_CLOSED.
   */
  Ending: 4,
} as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

/** What a {@link Conn} needs from the engine that owns it. */
export interface ConnOwner {
  write(conn: Conn, data: Chunk): void;
  writev(conn: Conn, chunks: readonly Chunk[]): void;
  close(conn: Conn): void;
  end(conn: Conn): void;
  pause(conn: Conn): void;
  resume(conn: Conn): void;
  bufferedAmount(conn: Conn): number;
  setDeadline(conn: Conn, kind: 'read' | 'write', deadline: Date | number | undefined): void;
  address(conn: Conn, side: 'local' | 'remote'): AddressInfo | undefined;
  /** A stream over `conn` (see host/conn-stream.ts); throws if this owner cannot give one. */
  stream(conn: Conn, options: ConnStreamOptions | undefined): ConnStream;
}

/**
 * One TCP connection driven by an engine: accepted on one of its listeners
 * or returned by `engine.dial`. Every method must be called on the thread
 * that owns the engine.
 */
export class Conn {
  /** A slot for the application's own per-connection state; the engine never touches it. */
  session: unknown = undefined;
  /** @internal The reactor's handle of this connection (descriptor and generation). */
  readonly handle: number;
  /** @internal Where the connection is in its lifecycle; see {@link ConnState}. */
  state: ConnState;
  /** @internal The stream its data, drains and close go to instead of the engine's handlers, once {@link toStream} made one. */
  stream: ConnStream | undefined = undefined;
  readonly #owner: ConnOwner;
  #paused = false;
  #local: AddressInfo | undefined;
  #remote: AddressInfo | undefined;

  /** Connections are created by an engine (accepted, or returned by `dial`), never by users. */
  constructor(owner: ConnOwner, handle: number, state: ConnState) {
    this.#owner = owner;
    this.handle = handle;
    this.state = state;
  }

  /**
   * Sends bytes (a string is sent as UTF-8). They go straight to the socket;
   * whatever the kernel does not take now is copied into the connection's
   * write buffer and sent, in order, as the peer reads. The caller may reuse
   * `data` as soon as this returns.
   *
   * Throws ERR_NBIO_CLOSED if the connection was closed by `close()` or
   * `end()`, or its `onClose` already ran. If this write itself fails (the write buffer
   * would exceed `maxWriteBufferSize`, or the socket failed), it does not
   * throw: the connection is closed and `onClose` receives the cause.
   */
  write(data: Chunk): void {
    if (this.state === ConnState.Open) this.#owner.write(this, data);
    else if (this.state !== ConnState.Doomed) throw closedError();
  }

  /**
   * Sends several chunks, in order, as one write (one system call when the
   * kernel has room): the same as writing their concatenation. Same rules
   * as {@link write}.
   */
  writev(chunks: readonly Chunk[]): void {
    if (this.state === ConnState.Open) this.#owner.writev(this, chunks);
    else if (this.state !== ConnState.Doomed) throw closedError();
  }

  /**
   * Closes the connection now, discarding bytes still queued for the peer.
   * `onClose` follows (asynchronously) with `err` undefined, unless the
   * connection had already failed, in which case it receives that cause.
   * Calling it again does nothing.
   */
  close(): void {
    if (this.state !== ConnState.Closed) this.#owner.close(this);
  }

  /**
   * Closes the connection gracefully: bytes already written (queued or not)
   * are all sent first, then it closes; `onClose` follows with `err`
   * undefined. Data that arrives meanwhile is still delivered. Writes after
   * `end()` throw ERR_NBIO_CLOSED. Calling `end()` again does nothing;
   * `close()` afterwards closes at once, discarding what is still queued.
   */
  end(): void {
    if (this.state === ConnState.Open) this.#owner.end(this);
  }

  /**
   * Stops reading: `onData` is not called for this connection until
   * {@link resume}. What the peer sends meanwhile waits in the kernel (TCP
   * flow control then slows the peer down); bytes already read when
   * `pause()` was called are kept and delivered first after `resume()`, so
   * nothing is lost. Writes go on as usual. The peer closing (or resetting)
   * the connection meanwhile is reported by `onClose` only after the bytes
   * before it, that is after `resume()` (or at once on `close()` or
   * `engine.stop()`). Calling it again, or on a closed connection, does nothing.
   */
  pause(): void {
    if (this.#paused || (this.state !== ConnState.Open && this.state !== ConnState.Ending)) return;
    this.#paused = true;
    this.#owner.pause(this);
  }

  /**
   * Resumes reading after {@link pause}: bytes kept while paused are
   * delivered first (asynchronously, never from inside this call), then
   * reading goes on. Calling it when not paused does nothing.
   */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#owner.resume(this);
  }

  /**
   * Turns the connection into a `stream.Duplex` (for `tls.TLSSocket`,
   * `http.Server`'s `'connection'`, pipelines), with backpressure both
   * ways; see host/conn-stream.ts for exactly how reads, writes, `end()`
   * and closes map. From this call on, the connection's data, drains and
   * close go to the stream, not to the engine's `onData`, `onDrain` and
   * `onClose`; call it in `onOpen` to get every byte. The stream pauses and
   * resumes the connection itself: do not call {@link pause} or
   * {@link resume} on it. Calling it again returns the same stream.
   *
   * Throws ERR_NBIO_CLOSED if the connection is closed or ending,
   * ERR_NBIO_NOT_SUPPORTED if a plugin serves it, ERR_NBIO_INVALID_OPTION
   * for unknown or bad options.
   */
  toStream(options?: ConnStreamOptions): ConnStream {
    if (this.stream !== undefined) return this.stream;
    if (this.state !== ConnState.Open) throw closedError();
    this.stream = this.#owner.stream(this, options);
    return this.stream;
  }

  /** True between {@link pause} and {@link resume}. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Sets (or, with undefined or 0, clears) the read deadline: a time (a
   * `Date`, or milliseconds since the epoch as `Date.now()` counts) by which
   * the application expects to be done reading. If it passes, the
   * connection is closed and `onClose` receives ERR_NBIO_READ_TIMEOUT.
   * Incoming data does not extend it: set it again (e.g. in `onData`) to
   * keep an active connection alive. A time in the past closes it at once.
   */
  setReadDeadline(deadline: Date | number | undefined): void {
    if (this.state === ConnState.Open || this.state === ConnState.Ending) this.#owner.setDeadline(this, 'read', deadline);
  }

  /**
   * Sets (or clears) the write deadline: if bytes written are still queued
   * (not taken by the kernel) when it passes, the connection is closed and
   * `onClose` receives ERR_NBIO_WRITE_TIMEOUT. Once everything written was
   * sent, passing it does nothing.
   */
  setWriteDeadline(deadline: Date | number | undefined): void {
    if (this.state === ConnState.Open || this.state === ConnState.Ending) this.#owner.setDeadline(this, 'write', deadline);
  }

  /** Sets (or clears) both deadlines. */
  setDeadline(deadline: Date | number | undefined): void {
    this.setReadDeadline(deadline);
    this.setWriteDeadline(deadline);
  }

  /** True once the connection is closed, ending (`end()`), or closing because it failed. */
  get closed(): boolean {
    return this.state !== ConnState.Open;
  }

  /** Bytes written but not yet taken by the kernel (queued in the write buffer). */
  get bufferedAmount(): number {
    return this.state === ConnState.Open || this.state === ConnState.Ending ? this.#owner.bufferedAmount(this) : 0;
  }

  /**
   * This side's address. Looked up on first use and remembered; undefined
   * if first asked for after the connection closed.
   */
  get localAddr(): AddressInfo | undefined {
    this.#local ??= this.#lookUp('local');
    return this.#local;
  }

  /** The peer's address; same rules as {@link localAddr}. */
  get remoteAddr(): AddressInfo | undefined {
    this.#remote ??= this.#lookUp('remote');
    return this.#remote;
  }

  #lookUp(side: 'local' | 'remote'): AddressInfo | undefined {
    return this.state === ConnState.Open || this.state === ConnState.Ending ? this.#owner.address(this, side) : undefined;
  }
}

/** The error for using a connection that is closed. */
function closedError(): NbioError {
  return new NbioError('ERR_NBIO_CLOSED', 'the connection is closed');
}
