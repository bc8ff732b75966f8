/**
 * The reactor's counters, behind the `stats` export (wit/nbio-engine.wit):
 * kept where the things counted happen (an accept, a dial or a socket
 * handed over, a UDP socket's new peer, a read, what the kernel
 * took of a write, a `closed` event, every byte entering or leaving a write
 * queue), so that reading them costs no system call and no walk over the
 * connections. Counting is a few additions per system call the reactor
 * makes anyway.
 *
 * Closes are counted by their exact `status`, in a table of `closed-count`
 * records that is also the list `stats` returns (no copy):
 *
 *   CLOSED_TABLE: [ {status s32, count u64} x closedEntries | free ... ] CLOSED_MAX entries
 *
 * A close whose status is new once the table is full counts in
 * `closedOther`. Statuses are few in practice (a handful of errnos, the
 * three close causes, the host's own causes).
 */
import {
  CLOSED_COUNT_ALIGN, CLOSED_COUNT_COUNT_OFFSET, CLOSED_COUNT_SIZE, CLOSED_COUNT_STATUS_OFFSET,
  LIST_LEN_OFFSET, LIST_PTR_OFFSET,
  REACTOR_STATS_ACCEPTED_OFFSET, REACTOR_STATS_ADDED_OFFSET, REACTOR_STATS_ALIGN, REACTOR_STATS_BYTES_READ_OFFSET, REACTOR_STATS_BYTES_WRITTEN_OFFSET,
  REACTOR_STATS_CLOSED_MAX, REACTOR_STATS_CLOSED_OFFSET, REACTOR_STATS_CLOSED_OTHER_OFFSET, REACTOR_STATS_CONNECTIONS_OFFSET, REACTOR_STATS_DIALED_OFFSET,
  REACTOR_STATS_MEMORY_IN_USE_OFFSET, REACTOR_STATS_MEMORY_SIZE_OFFSET, REACTOR_STATS_QUEUED_MAX_OFFSET, REACTOR_STATS_QUEUED_OFFSET, REACTOR_STATS_SIZE,
} from "./generated/abi";

/** Distinct close statuses counted one by one (the WIT's bound on the `closed` list). */
const CLOSED_MAX: i32 = REACTOR_STATS_CLOSED_MAX;
const CLOSED_TABLE: usize = memory.data(<i32>(<usize>CLOSED_MAX * CLOSED_COUNT_SIZE), <i32>CLOSED_COUNT_ALIGN);
let closedEntries: i32 = 0;
let closedOther: u64 = 0;

let accepted: u64 = 0;
let dialed: u64 = 0;
let added: u64 = 0;
let bytesRead: u64 = 0;
let bytesWritten: u64 = 0;
let queued: u64 = 0;
let queuedMax: u64 = 0;

/** The `stats` record returned to the host (valid until its next call). */
const RECORD: usize = memory.data(<i32>REACTOR_STATS_SIZE, <i32>REACTOR_STATS_ALIGN);

/** A connection was accepted: on a listener, handed over as accepted, or a UDP socket's new peer. */
@inline export function countAccepted(): void { accepted++; }

/** A dial was handed over: a TCP or Unix socket (`add-conn`), or a connected UDP socket (`add-datagram`). */
@inline export function countDialed(): void { dialed++; }

/** A connected socket was taken over from elsewhere (`add-conn` as `added`). */
@inline export function countAdded(): void { added++; }

/** `n` bytes were read from a connection. */
@inline export function countRead(n: u32): void { bytesRead += n; }

/** The kernel took `n` bytes of a connection's write. */
@inline export function countWritten(n: u32): void { bytesWritten += n; }

/** `n` bytes entered a write queue. */
@inline export function countQueued(n: u32): void {
  queued += n;
  if (queued > queuedMax) queuedMax = queued;
}

/** `n` bytes left a write queue (sent, or dropped with their connection). */
@inline export function countUnqueued(n: u32): void { queued -= n; }

/** A `closed` event with `status` was reported. */
export function countClosed(status: i32): void {
  for (let i = 0; i < closedEntries; i++) {
    const e = CLOSED_TABLE + <usize>i * CLOSED_COUNT_SIZE;
    if (load<i32>(e, CLOSED_COUNT_STATUS_OFFSET) == status) {
      store<u64>(e, load<u64>(e, CLOSED_COUNT_COUNT_OFFSET) + 1, CLOSED_COUNT_COUNT_OFFSET);
      return;
    }
  }
  if (closedEntries == CLOSED_MAX) { closedOther++; return; }
  const e = CLOSED_TABLE + <usize>closedEntries * CLOSED_COUNT_SIZE;
  store<i32>(e, status, CLOSED_COUNT_STATUS_OFFSET);
  store<u64>(e, 1, CLOSED_COUNT_COUNT_OFFSET);
  closedEntries++;
}

/** Fills the `stats` record with the counters and the figures given; returns its address. */
export function statsRecord(connections: u32, memorySize: u64, memoryInUse: u64): usize {
  store<u32>(RECORD, connections, REACTOR_STATS_CONNECTIONS_OFFSET);
  store<u64>(RECORD, accepted, REACTOR_STATS_ACCEPTED_OFFSET);
  store<u64>(RECORD, dialed, REACTOR_STATS_DIALED_OFFSET);
  store<u64>(RECORD, added, REACTOR_STATS_ADDED_OFFSET);
  store<u32>(RECORD, <u32>CLOSED_TABLE, REACTOR_STATS_CLOSED_OFFSET + LIST_PTR_OFFSET);
  store<u32>(RECORD, <u32>closedEntries, REACTOR_STATS_CLOSED_OFFSET + LIST_LEN_OFFSET);
  store<u64>(RECORD, closedOther, REACTOR_STATS_CLOSED_OTHER_OFFSET);
  store<u64>(RECORD, bytesRead, REACTOR_STATS_BYTES_READ_OFFSET);
  store<u64>(RECORD, bytesWritten, REACTOR_STATS_BYTES_WRITTEN_OFFSET);
  store<u64>(RECORD, queued, REACTOR_STATS_QUEUED_OFFSET);
  store<u64>(RECORD, queuedMax, REACTOR_STATS_QUEUED_MAX_OFFSET);
  store<u64>(RECORD, memorySize, REACTOR_STATS_MEMORY_SIZE_OFFSET);
  store<u64>(RECORD, memoryInUse, REACTOR_STATS_MEMORY_IN_USE_OFFSET);
  return RECORD;
}
