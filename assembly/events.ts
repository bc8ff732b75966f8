/**
 * The outgoing event array: `list<event>` as returned by `run-once` and
 * `take-events`.
 *
 * Record: engine.event in its canonical-ABI layout, whose offsets
 * (EVENT_*_OFFSET, EVENT_SIZE) build/abi.mjs generates from the WIT; at
 * the time of writing:
 *
 *   +0      +1     +4        +8          +12         +16         +20        +24
 *   +-------+------+---------+-----------+-----------+-----------+----------+
 *   |kind u8| pad  | conn u32| status s32| detail u32| data ptr  | data len |
 *   +-------+------+---------+-----------+-----------+-----------+----------+
 *
 * Array life cycle:
 *
 *   [0 ........ returned)[returned ........ count)[count ..... cap)
 *    the list the host    events made since        free room
 *    is dispatching       (write/close exports)
 *
 *  - `evReturn` hands out [0, count) and sets returned = count.
 *  - While the host dispatches, exports append behind it; the returned
 *    records are never touched. If the array must grow meanwhile, the old
 *    block is "retired" (kept alive, unchanged) instead of freed.
 *  - `evCompact` (start of run-once / take-events / shutdown) drops the
 *    returned prefix, slides the pending tail to the front and frees the
 *    retired block.
 *
 * The array only grows (doubling), so steady traffic allocates nothing.
 * Growing can fail (the heap is out of memory): `evEnsure` grows ahead of
 * time, and the reactor keeps room for the events it cannot drop (a
 * `closed` for every live connection; see reactor.ts `room`).
 *
 * The list lifecycle is also the lifecycle of memory the heap holds for
 * the host to discard (`released` events): runs reported by a list are in
 * the host's hands once it is returned (`heapReported`), and the heap may
 * reuse them from the host's next call on (abi.ts `beginCall`).
 */
import {
  EVENT_CONN_OFFSET, EVENT_DATA_OFFSET, EVENT_DETAIL_OFFSET, EVENT_KIND_OFFSET, EVENT_SIZE,
  EVENT_STATUS_OFFSET, LIST_ALIGN, LIST_LEN_OFFSET, LIST_PTR_OFFSET, LIST_SIZE,
} from "./generated/abi";
import { heapAlloc, heapFree, heapReported } from "./heap";

const INITIAL_EVENTS: u32 = 4096;

let base: usize = 0;
let cap: u32 = 0;
let count: u32 = 0;
let returned: u32 = 0;
let retired: usize = 0;

/** Static return area of run-once / take-events: the list's {ptr, len}. */
const RET_AREA: usize = memory.data(<i32>LIST_SIZE, <i32>LIST_ALIGN);

/** Grows the array to hold at least `want` records. False if the memory cannot be had. */
function grow(want: u32): bool {
  let newCap = cap == 0 ? INITIAL_EVENTS : cap << 1;
  while (newCap < want) newCap <<= 1;
  if (<u64>newCap * EVENT_SIZE > 0x7FFF_FFFF) return false;
  const fresh = heapAlloc(<usize>newCap * EVENT_SIZE);
  if (fresh == 0) return false;
  if (base != 0) {
    memory.copy(fresh, base, <usize>count * EVENT_SIZE);
    if (returned != 0 && retired == 0) retired = base; // host still reads it
    else heapFree(base);
  }
  base = fresh;
  cap = newCap;
  return true;
}

/** Makes sure `free` more events can be pushed without growing. */
export function evEnsure(free: u32): bool {
  return cap - count >= free || grow(count + free);
}

/** Room for events right now, without growing. */
export function evRoom(): u32 { return cap - count; }

/**
 * Appends one event. There must be room (`evEnsure`); if there is not and
 * the array cannot grow, the event is dropped and false returned.
 */
export function evPush(kind: u8, conn: u32, status: i32, detail: u32, dataPtr: usize, dataLen: u32): bool {
  if (count == cap && !grow(count + 1)) return false;
  const e = base + <usize>count * EVENT_SIZE;
  store<u8>(e, kind, EVENT_KIND_OFFSET);
  store<u32>(e, conn, EVENT_CONN_OFFSET);
  store<i32>(e, status, EVENT_STATUS_OFFSET);
  store<u32>(e, detail, EVENT_DETAIL_OFFSET);
  store<u32>(e, <u32>dataPtr, EVENT_DATA_OFFSET + LIST_PTR_OFFSET);
  store<u32>(e, dataLen, EVENT_DATA_OFFSET + LIST_LEN_OFFSET);
  count++;
  return true;
}

/** Forgets the list returned last time; keeps the events made since. */
export function evCompact(): void {
  if (returned != 0) {
    const keep = count - returned;
    if (keep != 0) memory.copy(base, base + <usize>returned * EVENT_SIZE, <usize>keep * EVENT_SIZE);
    count = keep;
    returned = 0;
  }
  if (retired != 0) { heapFree(retired); retired = 0; }
}

/** Events not handed to the host yet. */
export function evPending(): u32 { return count - returned; }

/** Hands every event out; returns the address of the {ptr, len} area. */
export function evReturn(): usize {
  returned = count;
  heapReported();
  store<u32>(RET_AREA, <u32>base, LIST_PTR_OFFSET);
  store<u32>(RET_AREA, count, LIST_LEN_OFFSET);
  return RET_AREA;
}

