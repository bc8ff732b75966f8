// One socket of the in-memory kernel (kernel/fake.ts): its queues, state and
// readiness.
import { ECONNREFUSED, ECONNRESET } from './linux-numbers.js';

/**
 * One connected (or connecting) socket of the in-memory kernel
 * (test/reactor/kernel/fake.ts), and the test's handle on its far end.
 */
export interface FakeSocket {
  kind: 'socket';
  state: 'connecting' | 'connected';
  fd: number | undefined;
  inbox: Uint8Array;
  eof: boolean;
  reset: boolean;
  aborted: boolean;
  error: number;
  capacity: number;
  sent: Uint8Array[];
  closed: boolean;
  noDelay: boolean;
  /** The engine shut its sending side (`shutdown` SHUT_WR). */
  shutWr: boolean;
  /** The engine closed its socket with input unread: Linux answers with a reset. */
  closedUnread: boolean;
}

/** A socket in `state` that takes `capacity` bytes before EAGAIN. */
export function newSocket(state: FakeSocket['state'], capacity: number): FakeSocket {
  return {
    kind: 'socket', state, fd: undefined, inbox: new Uint8Array(0), eof: false, reset: false, aborted: false,
    error: 0, capacity, sent: [], closed: false, noDelay: false, shutWr: false, closedUnread: false,
  };
}

/** A reset arriving now: whatever the engine had not read yet is gone. */
export function resetNow(s: FakeSocket): void {
  s.state = 'connected';
  s.reset = true;
  s.error = -ECONNRESET;
  s.inbox = new Uint8Array(0);
}

/**
 * The far end of one connection, driven by the test. Calls take effect at
 * once; the engine notices at its next `epoll-wait` (level-triggered).
 */
export class Peer {
  readonly #s: FakeSocket;
  constructor(s: FakeSocket) {
    this.#s = s;
  }

  /** The engine-side descriptor: set once accepted (or at once for `dial`). */
  get fd(): number | undefined {
    return this.#s.fd;
  }

  /** True once the engine side closed its descriptor. */
  get closed(): boolean {
    return this.#s.closed;
  }

  /** True once the connection is reset (by the peer, a fault, or a failed connect). */
  get isReset(): boolean {
    return this.#s.reset;
  }

  /** True once the peer ended its stream (FIN). */
  get ended(): boolean {
    return this.#s.eof;
  }

  /** True if the kernel dropped the connection before the engine accepted it (ECONNABORTED). */
  get aborted(): boolean {
    return this.#s.aborted;
  }

  /** True once the engine shut its sending side (`shutdown` SHUT_WR): the peer read its end. */
  get engineEnded(): boolean {
    return this.#s.shutWr;
  }

  /**
   * True if the engine closed its socket while bytes from the peer were
   * still unread: Linux then resets the connection instead of ending it,
   * and drops what it had not sent to the peer yet. A graceful close
   * never does this.
   */
  get resetByEngine(): boolean {
    return this.#s.closedUnread;
  }

  /** Whether TCP_NODELAY is on for the engine-side socket. */
  get noDelay(): boolean {
    return this.#s.noDelay;
  }

  /** Bytes the engine may still write before EAGAIN. */
  get capacity(): number {
    return this.#s.capacity;
  }

  /** Bytes queued for the engine and not read by it yet. */
  get unread(): number {
    return this.#s.inbox.length;
  }

  /** Queues bytes for the engine to read. */
  send(data: Uint8Array | string): void {
    const add = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const next = new Uint8Array(this.#s.inbox.length + add.length);
    next.set(this.#s.inbox);
    next.set(add, this.#s.inbox.length);
    this.#s.inbox = next;
  }

  /** Ends the peer's stream (FIN): after the inbox, reads return end of stream. */
  end(): void {
    this.#s.eof = true;
  }

  /**
   * Resets the connection (RST). Bytes already in the inbox are still read;
   * then the pending error -ECONNRESET is taken by the next read or write
   * (or `socket-error`), after which reads give end of stream and writes
   * -EPIPE.
   */
  reset(): void {
    this.#s.reset = true;
    this.#s.error = -ECONNRESET;
  }

  /**
   * The connection fails with `errno` (negated, e.g. -ETIMEDOUT): a pending
   * socket error (ERR) on a dead connection (HUP), as after retransmissions
   * time out. Bytes already in the inbox are still read first.
   */
  fail(errno: number): void {
    this.#s.reset = true;
    this.#s.error = errno;
  }

  /** All bytes the engine wrote, concatenated. */
  received(): Uint8Array {
    const total = this.#s.sent.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of this.#s.sent) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  /** {@link received}, decoded as UTF-8. */
  receivedText(): string {
    return new TextDecoder().decode(this.received());
  }

  /** The peer read `n` bytes: the kernel takes `n` more before EAGAIN. */
  drain(n: number): void {
    this.#s.capacity += n;
  }

  /** Completes a connect in progress successfully (OUT becomes ready). */
  establish(): void {
    this.#s.state = 'connected';
  }

  /** Fails a connect in progress with `errno` (negated; default -ECONNREFUSED): ERR|HUP. */
  refuse(errno = -ECONNREFUSED): void {
    this.#s.state = 'connected';
    this.#s.reset = true;
    this.#s.error = errno;
  }
}

