/**
 * The `Conn`s one poller serves, looked up by the handles its reactor names
 * them by.
 */
import type { Conn } from '../api/conn.js';
import { FD_MASK, PEER_BIT } from '../generated/abi.js';

/**
 * The connections one poller serves, mirrored from its reactor's table:
 * by descriptor for sockets of their own, by handle for UDP peers (which
 * share the socket they came through). Lookups go by handle and check the
 * whole handle, so a handle the reactor issued for a reused descriptor
 * never names an older `Conn`.
 */
export class ConnIndex {
  readonly #byFd: (Conn | undefined)[] = [];
  readonly #peers = new Map<number, { conn: Conn; socket: number }>();

  /** Indexes a connection that has a descriptor of its own. */
  add(conn: Conn): void {
    this.#byFd[conn.handle & FD_MASK] = conn;
  }

  /** Indexes a UDP peer of the socket `socket`. */
  addPeer(conn: Conn, socket: number): void {
    this.#peers.set(conn.handle, { conn, socket });
  }

  /** The connection `handle` names, unless its descriptor belongs to another (or no) connection now. */
  get(handle: number): Conn | undefined {
    if (handle >= PEER_BIT) return this.#peers.get(handle)?.conn;
    const conn = this.#byFd[handle & FD_MASK];
    return conn !== undefined && conn.handle === handle ? conn : undefined;
  }

  /** Forgets the connection `handle` names (it closed). */
  remove(handle: number): void {
    if (handle >= PEER_BIT) this.#peers.delete(handle);
    else if (this.get(handle) !== undefined) this.#byFd[handle & FD_MASK] = undefined;
  }

  /**
   * The handle to pass to the reactor for `conn`: its own while it is the
   * connection indexed by that handle, else 0, which names nothing. A
   * handle's generation wraps after 2,047 reuses of its descriptor, so the
   * handle of a connection long closed may name a live one again; only the
   * identity of the `Conn` tells them apart.
   */
  handleOf(conn: Conn): number {
    return this.get(conn.handle) === conn ? conn.handle : 0;
  }

  /** The descriptor of `conn`'s socket (a UDP peer's is its socket's), or -1 when `conn` is not indexed. */
  fdOf(conn: Conn): number {
    if (this.handleOf(conn) === 0) return -1;
    return conn.handle >= PEER_BIT ? this.#peers.get(conn.handle)!.socket : conn.handle & FD_MASK;
  }

  /** Every indexed connection. */
  all(): Conn[] {
    return [...this.#byFd.filter((c) => c !== undefined), ...[...this.#peers.values()].map((p) => p.conn)];
  }

  /** Forgets every connection; returns them. */
  clear(): Conn[] {
    const all = this.all();
    this.#byFd.length = 0;
    this.#peers.clear();
    return all;
  }
}
