import { channel } from 'node:diagnostics_channel';
import { getSystemErrorName } from 'node:util';
import type { Conn } from './conn.js';
import type { EngineError } from './errors.js';
import { ClosedCountLayout, ListLayout, ReactorStatsLayout } from './generated/abi.js';
import { CloseCause } from './reactor.js';

/**
 * What an engine's poller has done: `engine.stats()`. The reactor counts
 * (see `stats` in wit/nbio-engine.wit), so reading it costs no system call
 * and does not grow with the number of connections.
 */
export interface EngineStats {
  /** Connections open now (dials in progress included). */
  connections: number;
  /** Connections accepted on the listeners so far. */
  accepted: number;
  /** Connections dialed so far (`engine.dial`), whether they connected or not. */
  dialed: number;
  /** Connections closed so far (dials that failed included). */
  closed: number;
  /**
   * `closed`, by what each connection's `onClose` got: `local` when
   * `err` was undefined (closed by this side), else `err.code`
   * (`ERR_NBIO_EOF`, `ECONNRESET`, `ERR_NBIO_READ_TIMEOUT`…).
   */
  closedBy: Record<string, number>;
  /** Bytes read from connections so far. */
  bytesRead: number;
  /** Bytes the kernel took from connections' writes so far (queued bytes count once it takes them). */
  bytesWritten: number;
  /** Bytes queued now in write buffers (written, not yet taken by the kernel), over all connections. */
  queued: number;
  /** The most bytes queued at once so far. */
  queuedMax: number;
  /** Bytes of the reactor's WebAssembly memory (it never shrinks: also its high-water mark). */
  reactorMemory: number;
  /** Bytes of that memory in use. */
  reactorMemoryInUse: number;
}

/** The `reactor-stats` record, decoded (u64s as numbers: exact up to 2^53). */
export interface ReactorStats {
  connections: number;
  accepted: number;
  dialed: number;
  added: number;
  closed: { status: number; count: number }[];
  closedOther: number;
  bytesRead: number;
  bytesWritten: number;
  queued: number;
  queuedMax: number;
  memorySize: number;
  memoryInUse: number;
}

/** Reads the `reactor-stats` record at `ptr` in reactor memory, `buffer` (its generated layout). */
export function readReactorStats(buffer: ArrayBufferLike, ptr: number): ReactorStats {
  const dv = new DataView(buffer);
  const u64 = (at: number) => dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32;
  const f = (offset: number) => u64(ptr + offset);
  const list = ptr + ReactorStatsLayout.closed;
  const first = dv.getUint32(list + ListLayout.ptr, true);
  const closed = Array.from({ length: dv.getUint32(list + ListLayout.len, true) }, (_, i) => {
    const e = first + i * ClosedCountLayout.size;
    return { status: dv.getInt32(e + ClosedCountLayout.status, true), count: u64(e + ClosedCountLayout.count) };
  });
  return {
    connections: dv.getUint32(ptr + ReactorStatsLayout.connections, true),
    accepted: f(ReactorStatsLayout.accepted),
    dialed: f(ReactorStatsLayout.dialed),
    added: f(ReactorStatsLayout.added),
    closed,
    closedOther: f(ReactorStatsLayout.closedOther),
    bytesRead: f(ReactorStatsLayout.bytesRead),
    bytesWritten: f(ReactorStatsLayout.bytesWritten),
    queued: f(ReactorStatsLayout.queued),
    queuedMax: f(ReactorStatsLayout.queuedMax),
    memorySize: f(ReactorStatsLayout.memorySize),
    memoryInUse: f(ReactorStatsLayout.memoryInUse),
  };
}

/** The name a close status goes by in `closedBy`: what onClose's `err.code` is for it. */
function closeName(status: number): string {
  switch (status) {
    case CloseCause.Local:
      return 'local';
    case CloseCause.PeerEnded:
      return 'ERR_NBIO_EOF';
    case CloseCause.WriteOverflow:
      return 'ERR_NBIO_WRITE_OVERFLOW';
    case CloseCause.DialTimeout:
      return 'ERR_NBIO_DIAL_TIMEOUT';
    case CloseCause.ReadTimeout:
      return 'ERR_NBIO_READ_TIMEOUT';
    case CloseCause.WriteTimeout:
      return 'ERR_NBIO_WRITE_TIMEOUT';
    default:
      if (status >= 0) return `status ${status}`;
      try {
        return getSystemErrorName(status);
      } catch {
        return `errno ${-status}`;
      }
  }
}

/** The public figures from the reactor's record. */
export function engineStats(r: Readonly<ReactorStats>): EngineStats {
  const closedBy: Record<string, number> = {};
  let closed = r.closedOther;
  for (const { status, count } of r.closed) {
    const name = closeName(status);
    closedBy[name] = (closedBy[name] ?? 0) + count;
    closed += count;
  }
  if (r.closedOther > 0) closedBy.other = r.closedOther;
  return {
    connections: r.connections,
    accepted: r.accepted,
    dialed: r.dialed,
    closed,
    closedBy,
    bytesRead: r.bytesRead,
    bytesWritten: r.bytesWritten,
    queued: r.queued,
    queuedMax: r.queuedMax,
    reactorMemory: r.memorySize,
    reactorMemoryInUse: r.memoryInUse,
  };
}

/** The figures of a reactor that has done nothing. */
export const NO_STATS: Readonly<ReactorStats> = Object.freeze({
  connections: 0, accepted: 0, dialed: 0, added: 0, closed: [], closedOther: 0,
  bytesRead: 0, bytesWritten: 0, queued: 0, queuedMax: 0, memorySize: 0, memoryInUse: 0,
});

/** What `nbio-wasm:open` publishes: a connection opened (accepted, or dialed and connected). */
export interface OpenMessage {
  conn: Conn;
}

/** What `nbio-wasm:close` publishes: a connection closed, with what its `onClose` gets. */
export interface CloseMessage {
  conn: Conn;
  error: EngineError | undefined;
}

/**
 * `node:diagnostics_channel` channels of connection events, published in
 * the thread of the poller serving the connection, right before the
 * engine's handler (`onOpen`, `onClose`) is called. Publishing is skipped
 * (no message is built) while a channel has no subscriber.
 */
export const channels = {
  open: channel('nbio-wasm:open'),
  close: channel('nbio-wasm:close'),
} as const;
