/**
 * A connection as a `stream.Duplex` (`conn.toStream()`), for `tls`, `http`
 * and pipelines: how reads, writes, ends and closes map onto the connection.
 */
import { Duplex } from 'node:stream';
import type { AddressInfo } from './address.js';
import { NbioError, type EngineError } from './errors.js';
import { checkKnownKeys } from './known-keys.js';

/** Options of `conn.toStream()`. */
export interface ConnStreamOptions {
  /**
   * Bytes the readable side buffers before the connection stops reading
   * (`conn.pause()`), until they are consumed. Default: Node's default for
   * streams (16 KiB on Node 20).
   */
  readableHighWaterMark?: number;
  /**
   * Bytes written and not yet taken by the kernel above which `write()`
   * returns false; `'drain'` follows once they are taken. Default: Node's
   * default for streams (16 KiB on Node 20).
   */
  writableHighWaterMark?: number;
}

const OPTIONS: ReadonlySet<string> = new Set(['readableHighWaterMark', 'writableHighWaterMark']);

/**
 * What a {@link ConnStream} uses of its connection: a `Conn` has all of it
 * (the public type `ConnStream`, host/index.ts, is the stream of a `Conn`).
 * Naming only this keeps the stream from depending on the connection's
 * module, which depends on it.
 */
export interface StreamedConn {
  /** Why it closed, once it has (a `Conn`'s `closeReason`): `'peer'` for an orderly close by the peer. */
  readonly closeReason: string | undefined;
  readonly remoteAddr: AddressInfo | undefined;
  readonly localAddr: AddressInfo | undefined;
  readonly closed: boolean;
  readonly bufferedAmount: number;
  write(data: Uint8Array): void;
  writev(chunks: readonly Uint8Array[]): void;
  end(): void;
  close(): void;
  pause(): void;
  resume(): void;
}

/** A Node callback of `_write`, `_final` or `_destroy`. */
type Callback = (err?: Error | null) => void;

/**
 * A `stream.Duplex` over one connection, for Node's ecosystem (`tls`,
 * `http`, pipelines): what `conn.toStream()` returns. From then on the
 * connection's data, drains and close come here instead of to the engine's
 * `onData`, `onDrain`, `onEnd` and `onClose` (the diagnostics channels and
 * `engine.stats()` still see them).
 *
 * - Reading: every chunk is copied and pushed; when the readable side is
 *   full (`readableHighWaterMark`) the connection is paused
 *   (`conn.pause()`: the kernel's buffer and TCP flow control hold the
 *   rest), and resumed once the consumer reads.
 * - Writing: a chunk goes to `conn.write` at once. While the connection
 *   has bytes the kernel has not taken, the write's callback waits for the
 *   connection's drain, and later chunks wait in the stream: `write()`
 *   returns false while more than `writableHighWaterMark` bytes are
 *   pending, and `'drain'` follows once the kernel took them. Chunks that
 *   waited together go out as one `conn.writev`.
 * - `end()` is `conn.end()`: everything written is sent, then the FIN,
 *   and data the peer still sends is pushed until it ends too (or the
 *   engine's `lingerTimeout` passes); `'finish'` once the connection
 *   closed; the readable side ends there too.
 * - The peer's end ends the readable side (`'end'`, after the bytes
 *   before it) and nothing else: the writable side stays open until the
 *   stream's consumer ends it (a Duplex with `allowHalfOpen`, whatever
 *   the engine's option). Node's TLS and HTTP layers do, once they have
 *   read to the end and written what they had to; `pipe()` does when its
 *   source ends. Ending it as soon as the readable side ended (as
 *   `net.Socket` without `allowHalfOpen` does) would cut a TLS layer that
 *   still writes its reply to the last bytes it read.
 *   A peer that hangs up with bytes still waiting for the kernel (no end
 *   of stream first) destroys the stream with ERR_NBIO_EOF.
 * - Any other cause of the close (`ECONNRESET`, a deadline, an overflow,
 *   the engine failing) destroys the stream with it (`'error'`, then
 *   `'close'`); a close by this side without `end()` (`conn.close()`,
 *   `engine.stop()`) destroys it without an error. `destroy()` closes the
 *   connection at once, discarding queued bytes.
 * - `setTimeout(ms)` emits `'timeout'` after `ms` without reads or writes,
 *   as `net.Socket` does (`http.Server` uses it for its keep-alive timeout).
 */
export class ConnStream<C extends StreamedConn = StreamedConn> extends Duplex {
  /** The connection this stream is over. */
  readonly conn: C;
  /** The callback of the write the kernel has not finished taking. */
  #pendingWrite: Callback | undefined;
  /** The callback of `_final`, waiting for the connection's graceful close. */
  #pendingFinal: Callback | undefined;
  #idle: NodeJS.Timeout | undefined;
  #idleMs = 0;
  /** The peer ended its side (`onEnd`): the close that follows sent everything queued. */
  #peerEnded = false;

  /** @internal Made by `conn.toStream()`; `options` are checked here (ERR_NBIO_INVALID_OPTION). */
  constructor(conn: C, options: ConnStreamOptions = {}) {
    super(duplexOptions(options));
    this.conn = conn;
  }

  /** The peer's address (`conn.remoteAddr`), as `net.Socket` names it. */
  get remoteAddress(): string | undefined {
    return this.conn.remoteAddr?.address;
  }

  get remotePort(): number | undefined {
    return this.conn.remoteAddr?.port;
  }

  get remoteFamily(): AddressInfo['family'] | undefined {
    return this.conn.remoteAddr?.family;
  }

  /** This side's address (`conn.localAddr`), as `net.Socket` names it. */
  get localAddress(): string | undefined {
    return this.conn.localAddr?.address;
  }

  get localPort(): number | undefined {
    return this.conn.localAddr?.port;
  }

  /**
   * Emits `'timeout'` once `ms` pass without a read or a write (0: never),
   * like `net.Socket#setTimeout`; `callback` is added as a `'timeout'`
   * listener. The stream stays open: the listener decides.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) {
      throw new NbioError('ERR_NBIO_INVALID_ARG', `setTimeout takes milliseconds >= 0, got ${String(ms)}`);
    }
    if (callback !== undefined) this.once('timeout', callback);
    this.#idleMs = ms;
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
    if (ms > 0 && !this.destroyed) {
      this.#idle = setTimeout(() => this.emit('timeout'), ms);
      this.#idle.unref();
    }
    return this;
  }

  /** The idle timer starts over: something was read or written. */
  #active(): void {
    if (this.#idle !== undefined) this.#idle.refresh();
  }

  // ---- from the poller, in place of the engine's onData, onDrain and onClose ----

  /** @internal Bytes arrived: a copy is pushed (the view is the engine's); a full readable side pauses the connection. */
  onData(conn: C, data: Uint8Array): void {
    if (this.#idleMs > 0) this.#active();
    if (!this.push(Buffer.from(data))) conn.pause();
  }

  /** @internal The kernel took everything written: the waiting write is done. */
  onDrain(): void {
    const callback = this.#pendingWrite;
    this.#pendingWrite = undefined;
    callback?.();
  }

  /** @internal The peer ended its side: the readable side ends (the writable side is the consumer's to end). */
  onEnd(): void {
    this.#peerEnded = true;
    this.push(null);
  }

  /** @internal The connection closed: end or destroy the stream, as the class doc says. */
  onClose(conn: C, err: EngineError | undefined): void {
    const write = this.#pendingWrite;
    const final = this.#pendingFinal;
    this.#pendingWrite = undefined;
    this.#pendingFinal = undefined;
    if (this.destroyed) return;
    const byPeer = err === undefined && conn.closeReason === 'peer';
    const graceful = (err === undefined && final !== undefined) || (byPeer && (write === undefined || this.#peerEnded));
    if (!graceful) {
      this.destroy(err ?? (byPeer ? hungUp() : undefined));
      return;
    }
    write?.();
    final?.();
    this.push(null);
  }

  // ---- Duplex ----

  override _read(): void {
    this.conn.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.#send(() => this.conn.write(chunk), callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: Callback): void {
    this.#send(() => this.conn.writev(chunks.map((c) => c.chunk)), callback);
  }

  /** Hands bytes to the connection; the callback waits while the kernel has not taken them all. */
  #send(write: () => void, callback: Callback): void {
    try {
      write();
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (this.#idleMs > 0) this.#active();
    if (this.conn.bufferedAmount === 0) callback();
    else this.#pendingWrite = callback;
  }

  override _final(callback: Callback): void {
    if (this.conn.closed) {
      callback();
      return;
    }
    this.#pendingFinal = callback;
    this.conn.end();
  }

  override _destroy(err: Error | null, callback: Callback): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
    const write = this.#pendingWrite;
    this.#pendingWrite = undefined;
    this.#pendingFinal = undefined;
    this.conn.close();
    write?.(err ?? new NbioError('ERR_NBIO_CLOSED', 'the stream was destroyed before the kernel took this write'));
    callback(err);
  }
}

/** The Duplex's options from `toStream`'s (ERR_NBIO_INVALID_OPTION for unknown or bad ones). */
function duplexOptions(options: ConnStreamOptions) {
  checkKnownKeys(options, OPTIONS, 'toStream option');
  return {
    allowHalfOpen: true,
    readableHighWaterMark: highWaterMark(options, 'readableHighWaterMark'),
    writableHighWaterMark: highWaterMark(options, 'writableHighWaterMark'),
  };
}

function highWaterMark(options: ConnStreamOptions, key: keyof ConnStreamOptions): number | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', `${key} must be a whole number of bytes >= 1, got ${String(value)}`);
  }
  return value;
}

/** The error a stream is destroyed with when the peer hung up before taking what the stream wrote. */
function hungUp(): NbioError {
  return new NbioError('ERR_NBIO_EOF', 'the peer closed the connection before the stream\'s writes were sent');
}
