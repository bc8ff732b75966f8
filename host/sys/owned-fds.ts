/**
 * The descriptors a reactor owns, by role, in memory another thread can
 * read: what containment closes when the poller fails.
 */
import { native } from './native.js';

/** What a descriptor is to the reactor that owns it. */
export const FdRole = {
  /** Not the reactor's: every `sys` call on it gets EBADF. */
  None: 0,
  /** The reactor's epoll instance. */
  Epoll: 1,
  /** A listening socket handed to the reactor. */
  Listener: 2,
  /** A connection: accepted by the reactor, or handed to it by the host (dial). */
  Conn: 3,
  /** A UDP socket serving peers, handed to the reactor. */
  Datagram: 4,
  /**
   * A connection another thread handed over (posted to a worker poller),
   * not registered with the reactor yet: the reactor cannot use it, and
   * it is closed with the table if the poller ends before taking it.
   */
  Handed: 5,
  /**
   * A file whose bytes the reactor sends on a connection (`write-file`):
   * only `send-file` reads it, and the reactor closes it once they are sent.
   */
  File: 6,
} as const;
export type FdRole = (typeof FdRole)[keyof typeof FdRole];

/** Descriptors the table covers: the reactor's own limit (20 bits of a handle). */
export const MAX_FDS = 1 << 20;

/**
 * The descriptors one reactor instance owns, by number: the capability
 * table the Linux host checks before every `sys` call (host/sys/linux.ts),
 * so a guest can only touch its own epoll instance, listeners and
 * connections.
 *
 * One byte per descriptor (an {@link FdRole}) in a SharedArrayBuffer of
 * 1 MiB, which stays virtual except for the pages the used numbers touch.
 * Being shared, the table outlives a worker thread that dies: the thread
 * that started it reads it ({@link from}) and closes what was left open.
 *
 * Ordering keeps that safe: a descriptor is recorded only after the call
 * that opened it returned, and forgotten before it is closed, so a thread
 * dying in between leaks a descriptor at worst; it never makes another
 * thread close a number that has been reused since. A descriptor the
 * engine's thread hands to a worker poller is recorded in the worker's
 * table ({@link FdRole.Handed}) before it is posted, so it is the
 * worker's from then on, whether the worker ever reads the message or not.
 */
export class OwnedFds {
  /** Role of each descriptor number; out-of-range numbers read as undefined (not owned). */
  readonly roles: Uint8Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(MAX_FDS)) {
    this.roles = new Uint8Array(buffer);
  }

  /** The table of another thread's reactor, shared with this one. */
  static from(buffer: SharedArrayBuffer): OwnedFds {
    return new OwnedFds(buffer);
  }

  /** The shared memory of the table, to hand to another thread. */
  get buffer(): SharedArrayBuffer {
    return this.roles.buffer as SharedArrayBuffer;
  }

  /** Records `fd` (>= 0, as just returned by the call that opened it) in `role`. */
  add(fd: number, role: FdRole): void {
    if (fd >= 0 && fd < MAX_FDS) this.roles[fd] = role;
  }

  /** Forgets `fd`; call it before closing the descriptor. */
  remove(fd: number): void {
    if (fd >= 0 && fd < MAX_FDS) this.roles[fd] = FdRole.None;
  }

  /** Whether `fd` is owned in `role`. */
  is(fd: number, role: FdRole): boolean {
    return this.roles[fd] === role;
  }

  /** Owned descriptors and their roles, ascending. */
  list(): Array<[number, FdRole]> {
    const found: Array<[number, FdRole]> = [];
    const roles = this.roles;
    for (let fd = 0; fd < MAX_FDS; fd++) if (roles[fd] !== FdRole.None) found.push([fd, roles[fd] as FdRole]);
    return found;
  }

  /**
   * Closes every owned descriptor at the host level, without the reactor
   * (which may be dead): what is left of a reactor that faulted, or of a
   * poller thread that died. Returns what was closed.
   */
  closeAll(): Array<[number, FdRole]> {
    const owned = this.list();
    for (const [fd] of owned) {
      this.remove(fd);
      native.close(fd);
    }
    return owned;
  }
}
