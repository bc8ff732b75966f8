/**
 * Stand-in `Conn`s, on the engine's thread, for connections it placed on a
 * worker poller: their operations posted to the worker, their opening and
 * closing reported back.
 */
import type { AddressInfo, ResolvedEndpoint, Transport } from '../api/address.js';
import { Conn, ConnState, type Chunk, type CloseReason, type ConnOwner, type SocketOption } from '../api/conn.js';
import { NbioError, reviveError, type ErrorMessage } from '../api/errors.js';

/** What a descriptor handed to a worker poller is: as `Adoption` in host/poller/poller.ts, as plain data. */
export interface RemoteAdoption {
  transport: Transport;
  connecting: boolean;
  timeout: number;
  target: ResolvedEndpoint | undefined;
  buffered?: Uint8Array[];
}

/** An operation on a connection that lives in a worker poller. */
export type ConnOp =
  | { op: 'write'; data: Uint8Array }
  | { op: 'close' | 'end' | 'closeWrite' | 'pause' | 'resume' }
  | { op: 'deadline'; kind: 'read' | 'write'; deadline: number }
  | { op: 'readTimeout'; ms: number }
  | { op: 'option'; option: SocketOption; value: number };

/** What a worker poller reports about a connection it serves for the engine's thread. */
export type RemoteReport =
  | { type: 'conn-opened'; id: number; local: AddressInfo | undefined; remote: AddressInfo | undefined }
  | { type: 'conn-closed'; id: number; reason: CloseReason; error?: ErrorMessage };

/** What the engine's thread asks of a worker about such a connection. */
export type RemoteRequest =
  | { type: 'adopt'; fd: number; how: RemoteAdoption; id: number }
  | ({ type: 'conn'; id: number } & ConnOp);

interface Remote {
  conn: Conn;
  /** The descriptor handed over (the worker's from then on). */
  fd: number;
  local: AddressInfo | undefined;
  remote: AddressInfo | undefined;
  resolve(conn: Conn): void;
  reject(err: Error): void;
}

/**
 * The connections one worker poller serves on behalf of the engine's
 * thread: those `engine.dial` and `engine.addConn` placed there. The
 * `Conn` returned here is a stand-in: its writes, `end`, `close`,
 * `closeWrite`, `pause`, `resume`, deadlines and socket options are posted
 * to the worker and act there, in order; its data and events go to the
 * handlers module in the worker. `bufferedAmount` is not known here (0).
 */
export class RemoteConns {
  readonly #post: (request: RemoteRequest) => void;
  readonly #remotes = new Map<number, Remote>();
  #next = 1;
  readonly #owner: ConnOwner = {
    write: (conn, data) => this.#op(conn, { op: 'write', data: copyOf(data) }),
    writev: (conn, chunks) => this.#op(conn, { op: 'write', data: Buffer.concat(chunks.map(copyOf)) }),
    sendFile: () => {
      throw new NbioError('ERR_NBIO_NOT_SUPPORTED',
        'sendFile() on a connection a worker poller serves for this thread is not supported: send from its handler there, or write the bytes');
    },
    close: (conn) => {
      conn.state = ConnState.Closed;
      this.#op(conn, { op: 'close' });
    },
    end: (conn) => {
      conn.state = ConnState.Ending;
      this.#op(conn, { op: 'end' });
    },
    closeWrite: (conn) => {
      conn.state = ConnState.WriteClosed;
      this.#op(conn, { op: 'closeWrite' });
    },
    pause: (conn) => this.#op(conn, { op: 'pause' }),
    resume: (conn) => this.#op(conn, { op: 'resume' }),
    bufferedAmount: () => 0,
    setDeadline: (conn, kind, at) => this.#op(conn, { op: 'deadline', kind, deadline: at }),
    setReadTimeout: (conn, ms) => this.#op(conn, { op: 'readTimeout', ms }),
    setOption: (conn, option, value) => this.#op(conn, { op: 'option', option, value }),
    stream: () => {
      throw new NbioError(
        'ERR_NBIO_NOT_SUPPORTED', 'a worker poller serves this connection: call toStream() in the handlers module, in that worker',
      );
    },
    address: (conn, side) => {
      const r = this.#remotes.get(conn.handle);
      return side === 'local' ? r?.local : r?.remote;
    },
  };

  constructor(post: (request: RemoteRequest) => void) {
    this.#post = post;
  }

  /**
   * Hands `fd` to the worker, which serves it; resolves with the stand-in
   * once it is open there (after its `onOpen` in the worker), or rejects
   * as the worker's dial or adoption did.
   */
  adopt(fd: number, how: RemoteAdoption): Promise<Conn> {
    const id = this.#next++;
    return new Promise<Conn>((resolve, reject) => {
      const conn = new Conn(this.#owner, id, ConnState.Connecting, how.transport);
      this.#remotes.set(id, { conn, fd, local: undefined, remote: undefined, resolve, reject });
      this.#post({ type: 'adopt', fd, how, id });
    });
  }

  /** Takes a worker's report about one of these connections. */
  report(message: RemoteReport): void {
    const r = this.#remotes.get(message.id);
    if (r === undefined) return;
    if (message.type === 'conn-opened') {
      r.local = message.local;
      r.remote = message.remote;
      if (r.conn.state === ConnState.Connecting) r.conn.state = ConnState.Open;
      r.resolve(r.conn);
      return;
    }
    this.#remotes.delete(message.id);
    const wasConnecting = r.conn.state === ConnState.Connecting;
    r.conn.state = ConnState.Closed;
    r.conn.setCloseReason(message.reason);
    if (wasConnecting) {
      r.reject(message.error === undefined ? new NbioError('ERR_NBIO_CLOSED', 'the connection closed before it opened') : reviveError(message.error));
    }
  }

  /** The worker is gone (host/poller/containment.ts): the stand-ins not open yet are closed and reject with `err`. */
  rejectPending(err: Error): void {
    for (const [id, r] of this.#remotes) {
      if (r.conn.state !== ConnState.Connecting) continue;
      this.#remotes.delete(id);
      r.conn.state = ConnState.Closed;
      r.conn.setCloseReason('error');
      r.reject(err);
    }
  }

  /** The worker is gone: takes the open stand-in of the connection on `fd`, if there is one, closed. */
  takeOpen(fd: number): Conn | undefined {
    for (const [id, r] of this.#remotes) {
      if (r.fd !== fd || r.conn.state === ConnState.Connecting) continue;
      this.#remotes.delete(id);
      r.conn.state = ConnState.Closed;
      r.conn.setCloseReason('error');
      return r.conn;
    }
    return undefined;
  }

  /** The worker is gone, and the connections left here were told closed there: every stand-in is closed. */
  forgetAll(): void {
    for (const r of this.#remotes.values()) r.conn.state = ConnState.Closed;
    this.#remotes.clear();
  }

  #op(conn: Conn, op: ConnOp): void {
    this.#post({ type: 'conn', id: conn.handle, ...op });
  }
}

function copyOf(data: Chunk): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (!(data instanceof Uint8Array)) throw new NbioError('ERR_NBIO_INVALID_ARG', `write() takes a Uint8Array (or Buffer) or a string, got ${typeof data}`);
  return Uint8Array.prototype.slice.call(data);
}
