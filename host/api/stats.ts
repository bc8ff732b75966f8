/**
 * `engine.stats()`: the records the reactors count, decoded through the
 * generated layout and summed over pollers, and the diagnostics channels of
 * opens and closes.
 */
import { channel } from 'node:diagnostics_channel';
import { getSystemErrorName } from 'node:util';
import type { Conn } from './conn.js';
import { NbioError, type EngineError } from './errors.js';
import { ClosedCountLayout, ListLayout, ReactorStatsLayout } from '../generated/abi.js';
import { checkKnownKeys } from './known-keys.js';
import { closeCauseName } from './close-causes.js';

/**
 * What an engine's pollers have done: `engine.stats()`, the sum over every
 * poller (this thread's and each worker's). Each reactor counts (see
 * `stats` in wit/nbio-engine.wit), so reading costs no system call and
 * does not grow with the number of connections. A worker poller's figures
 * are those it published last (host/poller/stats-board.ts).
 *
 * Every connection is counted once when it comes (in `accepted`, `dialed`
 * or `added`) and once when it goes (in `closed`), over TCP, Unix and UDP,
 * so whenever the figures are quiet (every poller's published)
 * `connections === accepted + dialed + added - closed`, a poller that
 * failed included (see {@link PollerStats}).
 */
export interface EngineStats {
  /** Connections open now (dials in progress and UDP peers included). */
  connections: number;
  /**
   * Connections accepted on the listeners so far, on whichever poller
   * serves them; for a UDP listener, each new peer (a remote address whose
   * first datagram opened a connection).
   */
  accepted: number;
  /** Connections dialed so far (`engine.dial`: TCP, Unix and UDP), whether they connected or not. */
  dialed: number;
  /** Sockets taken over so far with `engine.addConn`. */
  added: number;
  /** Connections closed so far (dials that failed included). */
  closed: number;
  /**
   * `closed`, by cause: `local` (closed by this side) and `peer` (the
   * peer ended its side first), whose `onClose` got `err` undefined; else
   * the `err.code` it got (`ECONNRESET`, `ERR_NBIO_READ_TIMEOUT`…).
   */
  closedBy: Record<string, number>;
  /** Bytes read from connections so far. */
  bytesRead: number;
  /** Bytes the kernel took from connections' writes so far (queued bytes count once it takes them). */
  bytesWritten: number;
  /** Bytes queued now in write buffers (written, not yet taken by the kernel), over all connections. */
  queued: number;
  /**
   * The most bytes queued at once so far. With several pollers, the sum of
   * each one's most: at least what was ever queued at once over all.
   */
  queuedMax: number;
  /** Bytes of the reactors' WebAssembly memory (it never shrinks: also its high-water mark). */
  reactorMemory: number;
  /** Bytes of that memory in use. */
  reactorMemoryInUse: number;
  /**
   * With `{ perPoller: true }` only: the same figures for each poller, this
   * thread's first, then the worker pollers in order; the fields above are
   * their sums.
   */
  pollers?: EngineStats[];
}

/** Options of `engine.stats`. */
export interface StatsOptions {
  /** Also tell each poller's figures (`pollers`). Default false. */
  perPoller?: boolean;
}

/**
 * What one poller brings to `engine.stats()`: its reactor's figures and,
 * once the poller failed (host/poller/containment.ts), the code of its failure.
 * A failed poller's figures are those taken last before it failed (when
 * it failed, if its reactor could still tell), with nothing queued and
 * the connections then open counted as closed with that code: so they
 * still add up, and they stay as they are from then on.
 */
export interface PollerStats {
  reactor: Readonly<ReactorStats>;
  failedWith?: string;
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

/**
 * Reads the `reactor-stats` record at `ptr` (its generated layout) in
 * `memory`: reactor memory, or a view of it kept by the caller.
 */
export function readReactorStats(memory: ArrayBufferLike | DataView, ptr: number): ReactorStats {
  const dv = memory instanceof DataView ? memory : new DataView(memory);
  const u64 = (at: number) => dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32;
  const f = (offset: number) => u64(ptr + offset);
  const list = ptr + ReactorStatsLayout.closed;
  const first = dv.getUint32(list + ListLayout.ptr, true);
  const closed: { status: number; count: number }[] = [];
  for (let i = 0, n = dv.getUint32(list + ListLayout.len, true); i < n; i++) {
    const e = first + i * ClosedCountLayout.size;
    closed.push({ status: dv.getInt32(e + ClosedCountLayout.status, true), count: u64(e + ClosedCountLayout.count) });
  }
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

/** The name a close status goes by in `closedBy`: `local`, `peer`, or what onClose's `err.code` is for it. */
function closeName(status: number): string {
  const cause = closeCauseName(status);
  if (cause !== undefined) return cause.name;
  if (status >= 0) return `status ${status}`;
  try {
    return getSystemErrorName(status);
  } catch {
    return `errno ${-status}`;
  }
}

const STATS_OPTIONS: ReadonlySet<string> = new Set(['perPoller']);

/** Whether `stats` was asked for each poller's figures; ERR_NBIO_INVALID_OPTION for an unknown option or a bad value. */
export function perPollerOption(options: StatsOptions | undefined): boolean {
  if (options === undefined) return false;
  checkKnownKeys(options, STATS_OPTIONS, 'stats option');
  const perPoller = options.perPoller ?? false;
  if (typeof perPoller !== 'boolean') throw new NbioError('ERR_NBIO_INVALID_OPTION', 'perPoller must be a boolean');
  return perPoller;
}

/**
 * The public figures: the sum over `pollers` (this thread's first), each
 * close status named as onClose's `err.code` is; with `perPoller`, each
 * poller's figures too.
 */
export function engineStats(pollers: readonly PollerStats[], perPoller = false): EngineStats {
  const total: EngineStats = {
    connections: 0, accepted: 0, dialed: 0, added: 0, closed: 0, closedBy: {}, bytesRead: 0, bytesWritten: 0,
    queued: 0, queuedMax: 0, reactorMemory: 0, reactorMemoryInUse: 0,
  };
  for (const p of pollers) addPoller(total, p);
  if (perPoller) total.pollers = pollers.map((p) => engineStats([p]));
  return total;
}

/** Adds one poller's figures to `into`. */
function addPoller(into: EngineStats, { reactor: r, failedWith }: PollerStats): void {
  const closedBy = into.closedBy;
  const count = (name: string, n: number) => {
    closedBy[name] = (closedBy[name] ?? 0) + n;
    into.closed += n;
  };
  for (const { status, count: n } of r.closed) count(closeName(status), n);
  if (r.closedOther > 0) count('other', r.closedOther);
  if (failedWith === undefined) {
    into.connections += r.connections;
    into.queued += r.queued;
  } else if (r.connections > 0) {
    count(failedWith, r.connections);
  }
  into.accepted += r.accepted;
  into.dialed += r.dialed;
  into.added += r.added;
  into.bytesRead += r.bytesRead;
  into.bytesWritten += r.bytesWritten;
  into.queuedMax += r.queuedMax;
  into.reactorMemory += r.memorySize;
  into.reactorMemoryInUse += r.memoryInUse;
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
