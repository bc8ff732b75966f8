// What the fault-injection host (test/reactor/fault/host.ts) knows of each
// connection, and what must hold once a round of a schedule has settled:
// every connection closed once, with a cause the schedule explains, no
// graceful close that resets, bytes intact both ways, nothing left in the
// reactor.
import { CloseCause, type Reactor } from '../../../host/guest/reactor.js';
import type { FakeKernel, Peer } from '../kernel/fake.js';

/** A connection as the host sees it, with everything that went through it. */
export interface Conn {
  peer: Peer;
  dialed: boolean;
  handle: number;
  opened: boolean;
  /** Statuses of its `closed` events (exactly one, in the end). */
  closes: number[];
  /** The host called `end` (a graceful close: everything written is sent first). */
  ending: boolean;
  /** Ended by the host, its FIN out (seen as `drained`, or nothing queued after `end`): it lingers, waiting for the peer's end. */
  lingering: boolean;
  /** The host's linger time-out closed it (what the peer sent after the FIN may have been dropped). */
  expired: boolean;
  /**
   * Closing it met an injected EAGAIN from `read` with bytes waiting (which
   * Linux never gives), so the input it reads and drops before closing
   * may have been left: the close may reset.
   */
  spuriousEmpty: boolean;
  /** The host ended it while settling, after the peer had stopped sending. */
  settled: boolean;
  /** A write failed: the kernel may have taken part of it. */
  writeFailed: boolean;
  /** The host closed it (`close`), discarding what was queued. */
  discarded: boolean;
  /** The reactor reported the peer's end (`ended`); the host then ended this side, as the Node host does. */
  peerEnded: boolean;
  /** Bytes `write` accepted (all of them when it returned their length). */
  accepted: number[];
  /** Bytes the peer sent, and bytes `data` events delivered. */
  sent: number[];
  delivered: number[];
}

/** Peers in creation order: the ones a schedule's `peer` numbers pick from. */
export interface PeerSlot {
  peer: Peer;
  conn: Conn | undefined;
  /** The peer's stream is over (end, reset, fail): it sends nothing more. */
  done: boolean;
  /** Bytes the peer sent (also before its connection was accepted). */
  sent: number[];
}

/** A round of the host once everything settled: what the end state is checked against. */
export interface Round {
  readonly kernel: FakeKernel;
  readonly r: Reactor;
  readonly lfd: number;
  readonly epfd: number;
  readonly maxWriteBufferSize: number;
  /** Writes may fail for lack of memory (a small `maxMemory`). */
  readonly tight: boolean;
  slots: PeerSlot[];
  conns: Map<number, Conn>;
  /** epoll-wait failed: the host stopped the reactor. */
  failed: boolean;
}

export class Violation extends Error {}

export function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Violation(what);
}

/** Whether `a` starts with `prefix`. */
function isPrefix(prefix: number[], a: number[]): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== a[i]) return false;
  return true;
}

/** Every connection closed once, bytes intact, nothing left in the reactor. */
export function checkEnd(host: Round): void {
  for (const c of host.conns.values()) {
    const what = `conn ${c.handle}${c.dialed ? ' (dialed)' : ''}`;
    check(c.closes.length === 1, `${what} closed ${c.closes.length} times`);
    const status = c.closes[0];
    // A graceful close never resets the connection (no input left unread).
    const graceful = status === CloseCause.Local || status === CloseCause.PeerEnded;
    if (graceful && !c.discarded && !c.spuriousEmpty && !host.failed) {
      check(!c.peer.resetByEngine, `${what}: closed gracefully (status ${status}) with input unread, a reset`);
    }
    // Every close has a reason the schedule gave it.
    if (status === CloseCause.Local) check(c.ending || c.discarded || host.failed, `${what} closed locally, but the host never closed it`);
    else if (status === CloseCause.PeerEnded) check(c.peer.isReset || c.peer.ended, `${what}: peer-ended, but the peer never ended`);
    else if (status === CloseCause.WriteOverflow) {
      check(c.writeFailed && (host.maxWriteBufferSize > 0 || host.tight), `${what}: overflow without a limit or a failed write`);
    }
    else check(status < 0 && c.peer.isReset, `${what} closed with status ${status} on a healthy connection`);
    // Engine -> peer: a prefix of what was accepted, all of it after a graceful end.
    const received = Array.from(c.peer.received());
    check(isPrefix(received, c.accepted), `${what}: the peer received bytes that were not written, or out of order`);
    const sentAll = status === CloseCause.Local || (status === CloseCause.PeerEnded && c.peerEnded);
    if (c.ending && !c.discarded && !host.failed && sentAll && !c.peer.isReset) {
      check(received.length === c.accepted.length, `${what}: ended gracefully but the peer got ${received.length} of ${c.accepted.length} bytes`);
    }
    // Peer -> engine: a prefix of what was sent, all of it unless it was cut short.
    check(isPrefix(c.delivered, c.sent), `${what}: delivered bytes the peer did not send, or out of order`);
    // (Bytes sent before the peer's end reach `data` events, also while the
    // connection lingers; a linger time-out may drop what was still unread.)
    const whole = status === CloseCause.PeerEnded || c.settled || (c.ending && c.peer.ended && !c.expired && !c.discarded && !host.failed);
    if (whole && !c.peer.isReset) {
      check(c.delivered.length === c.sent.length, `${what}: delivered ${c.delivered.length} of ${c.sent.length} bytes (status ${status})`);
    }
    check(host.r.bufferedAmount(c.handle) === 0, `${what}: bytes still queued after it closed`);
  }
  if (!host.failed) {
    const waiting = host.slots.filter((s) => s.conn === undefined && !s.peer.aborted).length;
    check(waiting === 0, `${waiting} peers never accepted`);
    check(host.r.connCount() === 0, `conn-count ${host.r.connCount()} after everything closed`);
    const fds = host.kernel.openFds();
    check(fds.length === 2 && fds.includes(host.lfd) && fds.includes(host.epfd), `descriptors open after everything closed: ${fds.join(' ')}`);
  }
}
