/**
 * `Conn`, one connection as the application holds it: its methods, state and
 * addresses. What the methods do is its owner's (`ConnOwner`, conn-owner.ts):
 * the poller serving it, or a worker's stand-in. Its lifecycle states and
 * close reasons are in conn-state.ts, the types of its arguments beside
 * `ConnOwner` in conn-owner.ts (this module exports both again, so that a
 * connection's vocabulary is imported from one place), the checks of its
 * arguments in conn-args.ts.
 */
import type { AddressInfo, Transport } from './address.js';
import type { ConnStream, ConnStreamOptions } from './conn-stream.js';
import { closedError, count, deadlineTime, extraArgument, flag } from './conn-args.js';
import type { Chunk, FileSource, OwnerOf, SendFileOptions, SocketOption } from './conn-owner.js';
import { ConnState, type CloseReason } from './conn-state.js';

export type { Chunk, FileSource, SendFileOptions, SocketOption } from './conn-owner.js';
export { ConnState, type CloseReason } from './conn-state.js';

/** What a {@link Conn} needs from the engine that owns it (conn-owner.ts). */
export type ConnOwner = OwnerOf<Conn>;

/**
 * One connection driven by an engine: accepted on one of its listeners,
 * a UDP peer of one of its sockets, returned by `engine.dial` or adopted
 * by `engine.addConn`. Every method must be called on the thread that owns
 * the engine.
 */
export class Conn {
  /** A slot for the application's own per-connection state; the engine never touches it. */
  session: unknown = undefined;
  /** @internal The reactor's handle of this connection (descriptor and generation, or a UDP peer's index). */
  readonly handle: number;
  /** @internal Where the connection is in its lifecycle; see {@link ConnState}. */
  state: ConnState;
  /** What it carries: a TCP stream, UDP datagrams, or a Unix stream. */
  readonly transport: Transport;
  /** @internal The stream its data, drains, end and close go to instead of the engine's handlers, once {@link toStream} made one. */
  stream: ConnStream<Conn> | undefined = undefined;
  /** @internal While a plugin instance serves the connection, its record of it (host/plugin/host-functions.ts): the engine's own record of which instance that is. */
  plugin: object | undefined = undefined;
  readonly #owner: ConnOwner;
  #paused = false;
  #truncated = 0;
  #closeReason: CloseReason | undefined;
  #local: AddressInfo | undefined;
  #remote: AddressInfo | undefined;

  /** Connections are created by an engine (accepted, or returned by `dial`), never by users. */
  constructor(owner: ConnOwner, handle: number, state: ConnState, transport: Transport = 'tcp', remote?: AddressInfo) {
    this.#owner = owner;
    this.handle = handle;
    this.state = state;
    this.transport = transport;
    this.#remote = remote;
  }

  /**
   * Sends bytes (a string is sent as UTF-8). They go straight to the socket;
   * whatever the kernel does not take now is copied into the connection's
   * write buffer and sent, in order, as the peer reads. The caller may reuse
   * `data` as soon as this returns. On a UDP connection `data` is one
   * datagram (queued whole if the socket's send buffer is full).
   *
   * Throws ERR_NBIO_CLOSED if the connection was closed by `close()`,
   * `end()` or `closeWrite()`, or its `onClose` already ran; on UDP, a
   * system error EMSGSIZE for a datagram larger than UDP allows (nothing
   * is sent; the connection stays open). If this write itself fails (the
   * write buffer would exceed `maxWriteBufferSize`, or the socket failed),
   * it does not throw: the connection is closed and `onClose` receives the
   * cause. An empty write sends nothing.
   *
   * It takes one argument: a second (a callback or an encoding, as
   * `net.Socket#write` takes) throws ERR_NBIO_INVALID_ARG rather than
   * being ignored. For when the bytes are sent, see `bufferedAmount` and
   * `onDrain`; for another encoding, `Buffer.from(s, encoding)`.
   */
  write(data: Chunk): void {
    if (arguments.length > 1) throw extraArgument('write', arguments[1]);
    if (this.state === ConnState.Open) this.#owner.write(this, data);
    else if (this.state !== ConnState.Doomed) throw closedError();
  }

  /**
   * Sends several chunks, in order, as one write (one system call when the
   * kernel has room): the same as writing their concatenation (on UDP, one
   * datagram). Same rules as {@link write}, one argument too.
   */
  writev(chunks: readonly Chunk[]): void {
    if (arguments.length > 1) throw extraArgument('writev', arguments[1]);
    if (this.state === ConnState.Open) this.#owner.writev(this, chunks);
    else if (this.state !== ConnState.Doomed) throw closedError();
  }

  /**
   * Sends bytes of a file without copying them through JavaScript or the
   * engine's memory: the kernel sends them from the page cache
   * (`sendfile(2)`). They are sent in order with writes: after every byte
   * written before, before every byte written after; what the socket does
   * not take now is sent as the peer reads, and counts in
   * `bufferedAmount` (and against `maxWriteBufferSize`: at most 4 GiB
   * queued at a time).
   *
   * `file` is a file descriptor, a `FileHandle` or a path. The connection
   * gets a descriptor of its own (a duplicate, or the path opened
   * read-only), closed once the bytes are sent or the connection closes:
   * the caller may close its own descriptor as soon as this returns. The
   * bytes are read when they are sent: a file changed meanwhile sends
   * what it holds then. `offset` (default 0) and `length` (default: the
   * rest of the file) must lie inside the file as it is now.
   *
   * Throws ERR_NBIO_INVALID_ARG for anything but a regular file or a range
   * outside it, ERR_NBIO_NOT_SUPPORTED on a UDP connection, on a
   * connection a worker poller serves for another thread, and where the
   * engine cannot send files (a plugin's connection); ERR_NBIO_CLOSED as
   * `write`. Failures while sending are those of a write: the connection
   * is closed and `onClose` receives the cause (EIO when the file turned
   * out shorter than the range).
   */
  sendFile(file: FileSource, options?: SendFileOptions): void {
    if (this.state === ConnState.Open) this.#owner.sendFile(this, file, options);
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
   * are all sent first, then this side's end (a FIN); data that arrives
   * meanwhile is still delivered, until the peer ends its side too, which
   * closes the connection, or until the engine's `lingerTimeout` passes
   * after the FIN, which closes it, what arrived unread being dropped
   * rather than resetting the connection. `onClose` follows with `err`
   * undefined (`closeReason` `'peer'` if the peer had ended its side first). Writes
   * after `end()` throw ERR_NBIO_CLOSED. Calling `end()` again does
   * nothing; `close()` afterwards closes at once, discarding what is still
   * queued. With `setLinger(0)` it does not wait for the peer: it resets
   * the connection once everything was handed to the kernel.
   */
  end(): void {
    if (this.state === ConnState.Open || this.state === ConnState.WriteClosed) this.#owner.end(this);
  }

  /**
   * Ends this side only (a half-close, `shutdown(SHUT_WR)`): bytes already
   * written are sent first, then the peer reads the end of the stream,
   * while this side goes on reading until the peer ends too; the
   * connection then closes (`onClose` with `err` undefined). Writes
   * afterwards throw ERR_NBIO_CLOSED. On a UDP connection, which has no
   * direction to shut, it is `end()`. Calling it again, or after `end()`,
   * does nothing.
   */
  closeWrite(): void {
    if (this.state === ConnState.Open) this.#owner.closeWrite(this);
  }

  /**
   * Stops reading: `onData` is not called for this connection until
   * {@link resume}. What the peer sends meanwhile waits in the kernel (TCP
   * flow control then slows the peer down); bytes already read when
   * `pause()` was called are kept and delivered first after `resume()`, so
   * nothing is lost. Writes go on as usual. The peer closing (or resetting)
   * the connection meanwhile is reported by `onClose` only after the bytes
   * before it, that is after `resume()` (or at once on `close()` or
   * `engine.stop()`). One still paused `pausedHangUpTimeout` after its peer
   * reset it is closed (ERR_NBIO_PAUSED_TIMEOUT). A UDP peer cannot be
   * slowed down: the datagrams it sends while paused are dropped. Calling it again, or on a closed
   * connection, does nothing.
   */
  pause(): void {
    if (this.#paused || !this.#live()) return;
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
   * ways; see host/api/conn-stream.ts for exactly how reads, writes, `end()`
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
  toStream(options?: ConnStreamOptions): ConnStream<Conn> {
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
   * Sets (or, with undefined or 0, clears) the read deadline: a point in
   * time (a `Date`, or milliseconds since the epoch as `Date.now()` counts)
   * by which the application expects to be done reading. If it passes, the
   * connection is closed and `onClose` receives ERR_NBIO_READ_TIMEOUT.
   * Incoming data does not extend it: set it again (e.g. in `onData`), or
   * use {@link setReadTimeout}, which data does extend. A recent time in
   * the past closes it at once; a time before 2001-09-09 (1e12 ms) is
   * refused with ERR_NBIO_INVALID_ARG, since it is a duration mistaken for
   * a time (`setReadDeadline(5000)`), as is anything but a finite time.
   */
  setReadDeadline(deadline: Date | number | undefined): void {
    const at = deadlineTime(deadline, 'setReadDeadline');
    if (this.#live()) this.#owner.setDeadline(this, 'read', at);
  }

  /**
   * Sets (or clears) the write deadline: if bytes written are still queued
   * (not taken by the kernel) when it passes, the connection is closed and
   * `onClose` receives ERR_NBIO_WRITE_TIMEOUT. Once everything written was
   * sent, passing it does nothing. Refused as {@link setReadDeadline}.
   */
  setWriteDeadline(deadline: Date | number | undefined): void {
    const at = deadlineTime(deadline, 'setWriteDeadline');
    if (this.#live()) this.#owner.setDeadline(this, 'write', at);
  }

  /**
   * A relative read time-out, as `net.Socket#setTimeout` counts it: once
   * `ms` pass with nothing read from the peer, the connection is closed
   * and `onClose` receives ERR_NBIO_READ_TIMEOUT (unlike Node, which only
   * emits `'timeout'`). Every read starts the count again, bytes kept
   * while paused included; a paused connection the peer is silent on does
   * time out. 0 turns it off. It is independent of the read deadline:
   * whichever passes first closes. Throws ERR_NBIO_INVALID_ARG unless `ms`
   * is an integer from 0 to 2147483647.
   */
  setReadTimeout(ms: number): this {
    const timeout = count(ms, 'ms');
    if (this.#live()) this.#owner.setReadTimeout(this, timeout);
    return this;
  }

  /** Sets (or clears) both deadlines; refused as {@link setReadDeadline}, the error naming `setDeadline`. */
  setDeadline(deadline: Date | number | undefined): void {
    const at = deadlineTime(deadline, 'setDeadline');
    if (!this.#live()) return;
    this.#owner.setDeadline(this, 'read', at);
    this.#owner.setDeadline(this, 'write', at);
  }

  /**
   * Turns Nagle's algorithm off (`noDelay` true, TCP_NODELAY, the engine's
   * default) or on. Only TCP has it: on other connections it does nothing.
   * Throws a system error if the socket refuses.
   */
  setNoDelay(noDelay = true): this {
    return this.#set('noDelay', flag(noDelay, 'noDelay'));
  }

  /**
   * Turns TCP keep-alive on or off (SO_KEEPALIVE); `initialDelay` (ms,
   * rounded up to whole seconds; 0 keeps the system's, 2 hours by default)
   * is how long the connection stays idle before the first probe
   * (TCP_KEEPIDLE). Only TCP has it: on other connections it does nothing.
   */
  setKeepAlive(enable = false, initialDelay = 0): this {
    const on = flag(enable, 'enable');
    const delay = count(initialDelay, 'initialDelay');
    this.#set('keepAlive', on);
    return on && delay > 0 ? this.#set('keepAliveDelay', Math.ceil(delay / 1000)) : this;
  }

  /**
   * Sets SO_LINGER: with `seconds` 0, closing the connection (`close()`,
   * or `end()` once flushed, without waiting for the peer's end) resets it
   * (RST) and drops what the kernel still holds for the peer; with more, a
   * close waits up to that long for the kernel to send it; `null` turns
   * it off (the default). (Not the engine's `lingerTimeout`, which is how
   * long an ended connection waits for the peer's end.)
   */
  setLinger(seconds: number | null): this {
    return this.#set('linger', seconds === null ? -1 : count(seconds, 'seconds'));
  }

  /**
   * Sets the socket's receive buffer size (SO_RCVBUF; the kernel doubles
   * it for its bookkeeping). On a UDP peer it is the shared socket's.
   */
  setReadBufferSize(bytes: number): this {
    return this.#set('readBufferSize', count(bytes, 'bytes'));
  }

  /** Sets the socket's send buffer size (SO_SNDBUF), as {@link setReadBufferSize}. */
  setWriteBufferSize(bytes: number): this {
    return this.#set('writeBufferSize', count(bytes, 'bytes'));
  }

  /**
   * UDP: how many datagrams arrived larger than `readBufferSize` and were
   * cut to it (their `onData` got the first `readBufferSize` bytes). 0 on
   * stream connections.
   */
  get truncated(): number {
    return this.#truncated;
  }

  /** @internal A datagram of this connection was cut. */
  countTruncated(): void {
    this.#truncated++;
  }

  /**
   * Why the connection closed (see {@link CloseReason}); undefined until it
   * has. Set before its `onClose` runs, so `onClose` can tell an orderly
   * close by the peer (`'peer'`) from one by this side (`'local'`): both
   * come with `err` undefined.
   */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /** @internal The connection closed for `reason` (the first one given stays). */
  setCloseReason(reason: CloseReason): void {
    this.#closeReason ??= reason;
  }

  /** True once writes are no longer accepted: closed, ended, write side closed, or closing because it failed. */
  get closed(): boolean {
    return this.state !== ConnState.Open;
  }

  /** Bytes written but not yet taken by the kernel (queued in the write buffer). */
  get bufferedAmount(): number {
    return this.#live() ? this.#owner.bufferedAmount(this) : 0;
  }

  /**
   * This side's address (for a Unix socket, `address` is its path). Looked
   * up on first use and remembered; undefined if first asked for after the
   * connection closed.
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

  #live(): boolean {
    const s = this.state;
    return s === ConnState.Open || s === ConnState.Ending || s === ConnState.WriteClosed;
  }

  #set(option: SocketOption, value: number): this {
    if (this.#live()) this.#owner.setOption(this, option, value);
    return this;
  }

  #lookUp(side: 'local' | 'remote'): AddressInfo | undefined {
    return this.#live() ? this.#owner.address(this, side) : undefined;
  }
}
