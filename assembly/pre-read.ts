/**
 * The first reads of a batch, made in one `read-each` call (level-
 * triggered only): before the reports of a batch are processed, the
 * connections whose report would start the read loop are read once each,
 * in report order, their bytes landing back to back in the batch data area
 * (batch.ts) as ordinary reads would. Each report's read loop then starts
 * from its pre-read result (conns.ts `readLoop`) instead of calling `read`:
 * one host call per wake-up instead of one per connection.
 *
 * Which reports. From the batch's first report on, a report is pre-read
 * when its connection is open, a stream, not paused, its peer has not
 * ended, the report has an IN-class bit, and its processing would not
 * flush first (no OUT with bytes queued): then nothing the report's
 * processing does before the read loop (a flush that only disarms OUT)
 * can change what the read sees. The scan passes over reports that read
 * nothing (stale tokens, paused or ended connections, OUT only) and stops
 * at the first report that would read otherwise (a listener, a datagram
 * socket, a connecting or flushing connection, a second report of a
 * descriptor already listed): so every report processed
 * before the last pre-read one is pre-read or reads nothing, and none of
 * them can stop the batch early (the room for their events is made here),
 * so no pre-read result is left unprocessed when the batch ends. A pre-
 * read connection's further reads that find the data area full stop its
 * read loop, not the batch: level-triggered, the rest is reported again by
 * the next wait. A resumed report (batch.ts `resumeReads`) is not pre-read
 * at all, nor is anything edge-triggered (its read loop must be resumed).
 *
 * A report's token is checked again when it is processed: a connection
 * closed since its pre-read (its flush failed) drops the bytes.
 */
import { EPOLLOUT, MAX_REPORTS_PER_BATCH, READ_TRIGGER } from "./constants";
import { FD_MASK, READY_EVENTS_OFFSET, READY_SIZE, READY_TOKEN_OFFSET } from "./generated/abi";
import {
  FLAG_DATAGRAM, FLAG_PEER_ENDED, FLAG_PRE_READ, FLAG_READ_PAUSED, STATE_LISTENER, STATE_OPEN, ctLookup, ctSlot,
  slotFlags, slotQueue, slotSetFlags, slotState,
} from "./conn-table";
import { wbIsEmpty } from "./write-buffer";
import { batchCommit, batchFree, batchNext } from "./batch";
import { edgeTriggered, readBufferSize } from "./settings";
import { room } from "./room";
import { sysReadEach } from "./sys";

/** A report with no pre-read result. */
export const NO_PRE_READ: i32 = i32.MIN_VALUE;

/** Events a report may add beside its reserved `closed` (`opened` and
 *  `drained`; or `data` and `ended`; or `parked`). */
const EVENTS_PER_REPORT: u32 = 2;

const FDS: usize = memory.data(<i32>(MAX_REPORTS_PER_BATCH << 2), 4);
const SIZES: usize = memory.data(<i32>(MAX_REPORTS_PER_BATCH << 2), 4);
/** The index in the ready array of each descriptor's report. */
const REPORTS: usize = memory.data(<i32>(MAX_REPORTS_PER_BATCH << 2), 4);

let count: u32 = 0;
let next: u32 = 0;
let nextData: usize = 0;
let takenData: usize = 0;

/**
 * Pre-reads the reports `from` .. `stop` - 1 of `ready` (at most
 * MAX_REPORTS_PER_BATCH of them) that qualify (see the file's doc). Forgets
 * the results of any earlier batch.
 */
export function preRead(ready: usize, from: u32, stop: u32): void {
  count = 0;
  next = 0;
  const rbs = readBufferSize();
  if (edgeTriggered() || batchFree() < rbs) return;
  let k: u32 = 0;
  let last: u32 = from;
  for (let i = from; i < stop; i++) {
    const r = ready + <usize>i * READY_SIZE;
    const token = load<u32>(r, READY_TOKEN_OFFSET);
    const events = load<u32>(r, READY_EVENTS_OFFSET);
    const s = ctLookup(token);
    if (s == 0) continue;
    const state = slotState(s);
    if (state == STATE_LISTENER) break;
    const f = slotFlags(s);
    if ((f & (FLAG_READ_PAUSED | FLAG_PEER_ENDED)) != 0 || (events & READ_TRIGGER) == 0) continue;
    // A second report of one descriptor (Linux makes none) reads after the first's read loop.
    if (state != STATE_OPEN || (f & (FLAG_DATAGRAM | FLAG_PRE_READ)) != 0) break;
    if ((events & EPOLLOUT) != 0 && !wbIsEmpty(slotQueue(s))) break;
    slotSetFlags(s, f | FLAG_PRE_READ);
    store<i32>(FDS + (<usize>k << 2), <i32>(token & FD_MASK));
    store<u32>(REPORTS + (<usize>k << 2), i);
    k++;
    last = i;
  }
  for (let j: u32 = 0; j < k; j++) {
    const s = ctSlot(load<i32>(FDS + (<usize>j << 2)));
    slotSetFlags(s, slotFlags(s) & ~FLAG_PRE_READ);
  }
  if (k == 0 || !room(EVENTS_PER_REPORT * (last - from + 1))) return;
  const dest = batchNext();
  count = sysReadEach(FDS, k, rbs, dest, batchFree(), SIZES);
  let used: u32 = 0;
  for (let j: u32 = 0; j < count; j++) {
    const n = load<i32>(SIZES + (<usize>j << 2));
    if (n > 0) used += <u32>n;
  }
  batchCommit(used);
  nextData = dest;
}

/** The pre-read result of report `index` of the batch (bytes, 0 for the
 *  end of the stream, or -errno; its bytes at `preReadData()`), or
 *  NO_PRE_READ. Called once per report, in order. */
export function takePreRead(index: u32): i32 {
  if (next >= count || load<u32>(REPORTS + (<usize>next << 2)) != index) return NO_PRE_READ;
  const n = load<i32>(SIZES + (<usize>next << 2));
  next++;
  takenData = nextData;
  if (n > 0) nextData += <usize>n;
  return n;
}

/** Where the bytes of the result `takePreRead` returned last are. */
@inline export function preReadData(): usize { return takenData; }

/** Forgets every pre-read result (`shutdown`). */
export function forgetPreReads(): void { count = 0; next = 0; }
