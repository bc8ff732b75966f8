/**
 * The guest-side descriptor table of the WASI build: the small integers
 * the reactor knows as descriptors, each naming the WASI resources behind
 * it. A pure data structure (no imports): sys/wasi.ts and wasi/net.ts own
 * the resources and drop them before releasing a slot.
 *
 * Numbers start at FIRST_FD and the lowest free one is handed out first,
 * as Linux does, so the reactor's fd-indexed connection table stays dense.
 *
 * Slot (SLOT_SIZE bytes):
 *
 *   [0]  u8  kind            FREE, EPOLL, LISTENER, CONNECTING, STREAM
 *   [1]  u8  registered      in the (one) epoll interest list
 *   [4]  u32 interest        EPOLL* bits from epoll-ctl
 *   [8]  u32 token           epoll-ctl's token, returned in reports
 *   [12] i32 socket          tcp-socket handle (0: none)
 *   [16] i32 input           input-stream handle (STREAM)
 *   [20] i32 output          output-stream handle (STREAM)
 *   [24] i32 socketPollable  subscribe() of the socket: accept / connect readiness
 *   [28] i32 inputPollable   subscribe() of the input stream
 *   [32] i32 outputPollable  subscribe() of the output stream
 *   [36] i32 pendingError    -errno to report later: a failed connect (for
 *                             socket-error), a read failure after some bytes
 *                             (for the next read); else 0
 *   [40] u32 readyBits       scratch of epoll-wait
 *   [44] u32 readSize        bytes the next read asks for (0: not known yet)
 *
 * Pollables are created on first need and cached until the slot closes;
 * every handle field is 0 when absent (0 is never a valid handle).
 */

const EVENT_KIND_FREE: u8 = 0;
export const EVENT_KIND_EPOLL: u8 = 1;
export const EVENT_KIND_LISTENER: u8 = 2;
export const EVENT_KIND_CONNECTING: u8 = 3;
export const EVENT_KIND_STREAM: u8 = 4;

export const FIRST_FD: i32 = 3;
/** Most descriptors (the reactor's table allows 2^20). */
const MAX_FD: i32 = 1 << 20;

const SLOT_SIZE: usize = 48;
const INITIAL_SLOTS: i32 = 256;

let slots: usize = 0;
let capacity: i32 = 0;
/** One past the highest descriptor ever handed out. */
let highWater: i32 = FIRST_FD;
/** No free descriptor below this one. */
let lowestFree: i32 = FIRST_FD;

@inline export function slotKind(s: usize): u8 { return load<u8>(s); }
@inline export function slotSetKind(s: usize, k: u8): void { store<u8>(s, k); }
@inline export function slotRegistered(s: usize): bool { return load<u8>(s, 1) != 0; }
@inline export function slotSetRegistered(s: usize, r: bool): void { store<u8>(s, r ? 1 : 0, 1); }
@inline export function slotInterest(s: usize): u32 { return load<u32>(s, 4); }
@inline export function slotSetInterest(s: usize, v: u32): void { store<u32>(s, v, 4); }
@inline export function slotToken(s: usize): u32 { return load<u32>(s, 8); }
@inline export function slotSetToken(s: usize, v: u32): void { store<u32>(s, v, 8); }
@inline export function slotSocket(s: usize): i32 { return load<i32>(s, 12); }
@inline export function slotSetSocket(s: usize, h: i32): void { store<i32>(s, h, 12); }
@inline export function slotInput(s: usize): i32 { return load<i32>(s, 16); }
@inline export function slotOutput(s: usize): i32 { return load<i32>(s, 20); }
@inline export function slotSetStreams(s: usize, input: i32, output: i32): void {
  store<i32>(s, input, 16); store<i32>(s, output, 20);
}
@inline export function slotSocketPollable(s: usize): i32 { return load<i32>(s, 24); }
@inline export function slotSetSocketPollable(s: usize, p: i32): void { store<i32>(s, p, 24); }
@inline export function slotInputPollable(s: usize): i32 { return load<i32>(s, 28); }
@inline export function slotSetInputPollable(s: usize, p: i32): void { store<i32>(s, p, 28); }
@inline export function slotOutputPollable(s: usize): i32 { return load<i32>(s, 32); }
@inline export function slotSetOutputPollable(s: usize, p: i32): void { store<i32>(s, p, 32); }
@inline export function slotPendingError(s: usize): i32 { return load<i32>(s, 36); }
@inline export function slotSetPendingError(s: usize, e: i32): void { store<i32>(s, e, 36); }
@inline export function slotReadyBits(s: usize): u32 { return load<u32>(s, 40); }
@inline export function slotSetReadyBits(s: usize, b: u32): void { store<u32>(s, b, 40); }
@inline export function slotReadSize(s: usize): u32 { return load<u32>(s, 44); }
@inline export function slotSetReadSize(s: usize, n: u32): void { store<u32>(s, n, 44); }

/** One past the highest descriptor in use so far (scan bound). */
export function fdHighWater(): i32 { return highWater; }

/** The slot of `fd` if it is open, else 0. */
export function fdSlot(fd: i32): usize {
  if (fd < FIRST_FD || fd >= capacity) return 0;
  const s = slots + <usize>fd * SLOT_SIZE;
  return load<u8>(s) == EVENT_KIND_FREE ? 0 : s;
}

/** The slot of `fd` whether open or not (fd must be < fdHighWater()). */
@inline export function fdSlotAt(fd: i32): usize { return slots + <usize>fd * SLOT_SIZE; }

function grow(): bool {
  if (capacity >= MAX_FD) return false;
  const cap = capacity == 0 ? INITIAL_SLOTS : min(capacity << 1, MAX_FD);
  const fresh = heap.alloc(<usize>cap * SLOT_SIZE);
  const old = <usize>capacity * SLOT_SIZE;
  if (slots != 0) { memory.copy(fresh, slots, old); heap.free(slots); }
  memory.fill(fresh + old, 0, <usize>cap * SLOT_SIZE - old);
  slots = fresh;
  capacity = cap;
  return true;
}

/** Opens the lowest free descriptor as `kind` (all fields zeroed).
 *  Returns it, or -1 when the table is full. */
export function fdOpen(kind: u8): i32 {
  let fd = lowestFree;
  while (fd < capacity && load<u8>(slots + <usize>fd * SLOT_SIZE) != EVENT_KIND_FREE) fd++;
  if (fd >= capacity && !grow()) return -1;
  const s = slots + <usize>fd * SLOT_SIZE;
  memory.fill(s, 0, SLOT_SIZE);
  store<u8>(s, kind);
  lowestFree = fd + 1;
  if (fd >= highWater) highWater = fd + 1;
  return fd;
}

/** Frees `fd`'s slot (its resources must already be dropped). */
export function fdRelease(fd: i32): void {
  const s = fdSlot(fd);
  if (s == 0) return;
  memory.fill(s, 0, SLOT_SIZE);
  if (fd < lowestFree) lowestFree = fd;
}
