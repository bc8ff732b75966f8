/**
 * What a `Conn`'s methods do on the poller that serves it: writes, ends,
 * closes, pauses, deadlines, socket options, streams.
 */
import type { AddressInfo } from '../api/address.js';
import { ConnState, type Chunk, type Conn, type ConnOwner, type FileSource, type SendFileOptions, type SocketOption } from '../api/conn.js';
import { ConnStream, type ConnStreamOptions } from '../api/conn-stream.js';
import type { ConnIndex } from './conn-index.js';
import { Deadlines, type DeadlineKind } from './deadlines.js';
import { NbioError, systemError } from '../api/errors.js';
import type { HeldReads } from './held-reads.js';
import { ERRNO, native } from '../sys/native.js';
import { CloseCause, type Reactor } from '../guest/reactor.js';
import { sockAddress } from '../sys/sockets.js';
import { setSocketOption } from '../sys/sockopts.js';
import type { WritePath } from './write-path.js';
import { filePieces } from './file-pieces.js';
import { FdRole, type OwnedFds } from '../sys/owned-fds.js';

/** What {@link ConnOps} acts on: the parts of its poller. */
export interface ConnOpsContext {
  reactor: Reactor;
  writer: WritePath;
  index: ConnIndex;
  held: HeldReads;
  /** The descriptors the reactor owns: files handed to it are recorded there. */
  owned: OwnedFds;
  /** Whether a plugin serves the connections (they cannot be turned into streams). */
  pluginServed: boolean;
  /** Most ms an ended connection waits for the peer's end once its FIN is out (the engine's `lingerTimeout`). */
  lingerTimeout: number;
  /** Most ms a paused connection whose peer hung up keeps its descriptor (the engine's `pausedHangUpTimeout`). */
  pausedHangUpTimeout: number;
  /** Delivers the events a call outside a batch caused (a `closed`, say) as soon as possible. */
  scheduleDrain(): void;
}

/**
 * What a poller does for the methods of its connections (the `ConnOwner`
 * of every `Conn` it creates): writes through the write path; closing,
 * ending, pausing and resuming through the reactor; deadlines; socket
 * options; addresses. The reactor is only ever given the handle of a live
 * connection (ConnIndex.handleOf). Events these calls cause are delivered
 * by the poller (`scheduleDrain`).
 */
export class ConnOps implements ConnOwner {
  readonly #c: ConnOpsContext;
  /** The connections' read and write deadlines, and the linger time-outs of those that ended. */
  readonly deadlines = new Deadlines<Conn>((conn, kind) => this.#deadlinePassed(conn, kind));
  /** Connections with SO_LINGER 0 (`setLinger(0)`): closing resets them, so an ended one does not linger. */
  readonly #resetOnClose = new WeakSet<Conn>();

  constructor(context: ConnOpsContext) {
    this.#c = context;
  }

  write(conn: Conn, data: Chunk): void {
    this.#afterCall(conn, this.#c.writer.write(this.#handleOf(conn), data));
  }

  writev(conn: Conn, chunks: readonly Chunk[]): void {
    this.#afterCall(conn, this.#c.writer.writev(this.#handleOf(conn), chunks));
  }

  /** Hands the file's bytes to the reactor, one `write-file` per piece; each piece's descriptor is the reactor's from then on. */
  sendFile(conn: Conn, file: FileSource, options: SendFileOptions | undefined): void {
    if (conn.transport === 'udp') {
      throw new NbioError('ERR_NBIO_NOT_SUPPORTED', 'sendFile() sends a byte stream: a UDP connection carries datagrams; write them');
    }
    if (this.#c.pluginServed) throw new NbioError('ERR_NBIO_NOT_SUPPORTED', 'a plugin serves this connection: the host cannot send files on it');
    const pieces = filePieces(file, options);
    const { reactor, owned } = this.#c;
    const handle = this.#handleOf(conn);
    for (const [i, piece] of pieces.entries()) {
      owned.add(piece.fd, FdRole.File);
      const rc = reactor.writeFile(handle, piece.fd, BigInt(piece.offset), piece.length);
      if (rc >= 0) continue;
      // The reactor closed this piece's descriptor; the rest were never handed over.
      for (const rest of pieces.slice(i + 1)) native.close(rest.fd);
      return this.#afterCall(conn, rc);
    }
  }

  close(conn: Conn): void {
    const { held, scheduleDrain } = this.#c;
    const state = conn.state;
    conn.state = ConnState.Closed;
    if (held.hasClose(conn)) {
      // Its close came while paused: report it now, dropping the held bytes.
      held.dropBytes(conn);
      held.resumed(conn);
      scheduleDrain();
    } else if (state === ConnState.Doomed) scheduleDrain();
    else this.closeWith(conn, CloseCause.Local);
  }

  /** Closes `conn` with `cause` (a host-defined one, such as a time-out). */
  closeWith(conn: Conn, cause: number): void {
    if (this.#c.reactor.close(this.#handleOf(conn), cause) === 0) this.#c.scheduleDrain();
  }

  end(conn: Conn): void {
    conn.state = ConnState.Ending;
    const { reactor } = this.#c;
    const handle = this.#handleOf(conn);
    if (reactor.end(handle) !== 0) return;
    this.#c.scheduleDrain();
    this.lingerIfSent(conn);
  }

  /**
   * If `conn`, ending, has nothing queued, its FIN is out (or, the peer
   * having ended first, it closed): it waits for the peer's end (which
   * closes it) at most `lingerTimeout` ms, then closes, the reactor
   * reading and dropping the input left rather than resetting the
   * connection. Called after `end()` and at each `drained` (one made
   * before `end()` in the same batch finds bytes queued since: the next
   * `drained` starts it). A UDP connection has no FIN: it closes once sent.
   * One with SO_LINGER 0 closes at once: a reset, as `setLinger(0)` asks.
   */
  lingerIfSent(conn: Conn): void {
    if (conn.transport === 'udp' || this.bufferedAmount(conn) !== 0) return;
    const { lingerTimeout } = this.#c;
    if (lingerTimeout === 0 || this.#resetOnClose.has(conn)) this.closeWith(conn, CloseCause.Local);
    else this.deadlines.set(conn, 'linger', Date.now() + lingerTimeout);
  }

  closeWrite(conn: Conn): void {
    conn.state = ConnState.WriteClosed;
    // Closes at once when the peer has ended too and nothing is queued.
    if (this.#c.reactor.closeWrite(this.#handleOf(conn)) === 0) this.#c.scheduleDrain();
  }

  pause(conn: Conn): void {
    this.#afterCall(conn, this.#c.reactor.pauseReading(this.#handleOf(conn)));
  }

  /** Reading goes on: what `conn` held first (from the next drain), then the reactor reads it again. */
  resume(conn: Conn): void {
    const { held } = this.#c;
    if (held.has(conn)) {
      held.resumed(conn);
      this.#c.scheduleDrain();
      return;
    }
    const s = conn.state;
    if (s === ConnState.Open || s === ConnState.Ending || s === ConnState.WriteClosed) {
      this.#afterCall(conn, this.#c.reactor.resumeReading(this.#handleOf(conn)));
    }
  }

  bufferedAmount(conn: Conn): number {
    return this.#c.reactor.bufferedAmount(this.#handleOf(conn));
  }

  setDeadline(conn: Conn, kind: DeadlineKind, at: number): void {
    this.deadlines.set(conn, kind, at);
  }

  setReadTimeout(conn: Conn, ms: number): void {
    this.deadlines.setReadTimeout(conn, ms);
  }

  setOption(conn: Conn, option: SocketOption, value: number): void {
    const fd = this.#c.index.fdOf(conn);
    if (fd < 0) return;
    setSocketOption(fd, conn.transport, option, value);
    if (option !== 'linger') return;
    if (value === 0) this.#resetOnClose.add(conn);
    else this.#resetOnClose.delete(conn);
  }

  address(conn: Conn, side: 'local' | 'remote'): AddressInfo | undefined {
    const fd = this.#c.index.fdOf(conn);
    return fd < 0 ? undefined : sockAddress(fd, side);
  }

  stream(conn: Conn, options: ConnStreamOptions | undefined): ConnStream<Conn> {
    if (this.#c.pluginServed) {
      throw new NbioError('ERR_NBIO_NOT_SUPPORTED', 'a plugin serves this connection: it cannot be turned into a stream');
    }
    if (conn.transport === 'udp') {
      throw new NbioError('ERR_NBIO_NOT_SUPPORTED', 'a UDP connection carries datagrams: it cannot be turned into a byte stream');
    }
    return new ConnStream(conn, options);
  }

  #handleOf(conn: Conn): number {
    return this.#c.index.handleOf(conn);
  }

  /** After a reactor call that may have closed `conn` (its `closed` event then tells why). */
  #afterCall(conn: Conn, rc: number): void {
    if (rc >= 0) return;
    // A datagram too large for UDP: nothing was sent, the connection stays open.
    if (rc === -ERRNO.EMSGSIZE) throw systemError(rc, 'send');
    conn.state = ConnState.Doomed;
    if (rc !== -ERRNO.EBADF) this.#c.scheduleDrain();
  }

  /**
   * The reactor parked paused `conn`: its peer hung up (or it failed).
   * It is closed once `pausedHangUpTimeout` passes if it is still paused
   * then; resumed before, the reactor reports its input and the hang-up.
   */
  parked(conn: Conn): void {
    this.deadlines.set(conn, 'hangUp', Date.now() + this.#c.pausedHangUpTimeout);
  }

  #deadlinePassed(conn: Conn, kind: DeadlineKind): void {
    if (conn.state !== ConnState.Open && conn.state !== ConnState.Ending && conn.state !== ConnState.WriteClosed) return;
    if (kind === 'linger') return this.closeWith(conn, CloseCause.Local);
    if (kind === 'hangUp') {
      if (conn.paused) this.closeWith(conn, CloseCause.PausedHangUp);
      return;
    }
    if (kind === 'write' && this.bufferedAmount(conn) === 0) return;
    this.closeWith(conn, kind === 'read' ? CloseCause.ReadTimeout : CloseCause.WriteTimeout);
  }
}
