/**
 * `epoll-wait` of the WASI build (sys/wasi.ts): which pollables the
 * interest list arms, polling them so that every ready descriptor is
 * reported within a bounded number of waits, and turning what is ready
 * into {token, events} reports.
 *
 *   listener   IN  -> the socket's pollable (a connection is pending)
 *   connecting OUT -> the socket's pollable (the connect finished;
 *                     finish-connect runs here: OUT on success,
 *                     OUT|ERR|HUP with the error kept for socket-error)
 *   stream     IN  -> the input stream's pollable
 *   stream     OUT -> the output stream's pollable, asked without
 *                     blocking (`pollable.ready`), see WRITE_RETRY_NS
 *
 * Pollables are level-like (ready until consumed), so this behaves as
 * level-triggered epoll. There are no RDHUP/ERR/HUP bits for streams: an
 * end of stream or an error shows on the next read or write.
 *
 * Fairness. A runtime may answer a poll with only some of the ready
 * pollables, always the same ones: wasmtime 49 returns at most 127 per
 * call (its poll runs under tokio's cooperative budget of 128 readiness
 * checks), in an order of its own. Polling every armed pollable in one
 * call would then serve those and starve the rest for as long as the
 * first stay busy. So a wait with more than SWEEP_PART armed pollables
 * first sweeps them in parts of SWEEP_PART, each polled together with an
 * always-ready clock (never blocking, and within the budget, so a part's
 * answer is complete); only a sweep that found nothing blocks, on the
 * whole list. A wait reports at most `max` descriptors: the sweep stops
 * before a part that might not fit, and the next wait's list starts at
 * the first descriptor it did not look at (rotation), so none is left
 * behind for more than ceil(descriptors / max) waits. The reports of a
 * wait start at a place that moves by one every wait: in the runtime's
 * fixed order the same connections would always be served first, and in
 * a closed loop those complete more round trips (at 50 x 64 B under
 * wasmtime, round trips per connection min / mean / max went from
 * 4,615 / 5,016 / 6,311 to 5,223 / 5,245 / 5,270).
 */
import { EAGAIN, EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT } from "../constants";
import { READY_EVENTS_OFFSET, READY_SIZE, READY_TOKEN_OFFSET } from "../generated/abi";
import {
  FIRST_FD, EVENT_KIND_CONNECTING, EVENT_KIND_LISTENER, EVENT_KIND_STREAM, fdHighWater, fdSlotAt,
  slotInput, slotInputPollable, slotInterest, slotKind, slotOutput, slotOutputPollable, slotReadyBits, slotRegistered,
  slotSetInputPollable, slotSetKind, slotSetOutputPollable, slotSetPendingError, slotSetReadyBits, slotSetSocketPollable,
  slotSetStreams, slotSocket, slotSocketPollable, slotToken,
} from "./fd-table";
import { dropPollable, isReady, subscribeInput, subscribeOutput } from "./io";
import { subscribeDuration } from "./clocks";
import { finishConnect, subscribeSocket } from "./sockets";
import { lingering } from "./linger";
import { psAdd, psClear, psCount, psPoll, psPollPart, psReadyTag, psTag } from "./poll-set";

/**
 * How soon a stream that cannot take a write now is asked again. Its
 * output pollable is never put in the blocking poll list: under wasmtime
 * (seen with wasmtime-py 49), a poll whose list held the output pollable
 * of a stream whose peer had stopped reading stopped returning at all,
 * even when other sockets became ready. So `epoll-wait` asks
 * `pollable.ready` (non-blocking) for each such stream and, while one is
 * pending, waits at most this long.
 */
const WRITE_RETRY_NS: u64 = 1_000_000;
/** Wait used for "no limit" when nothing at all is armed. */
const IDLE_NS: u64 = 3_600_000_000_000;
/**
 * Most armed pollables polled in one call of a sweep: with the clock that
 * makes the call non-blocking, within the 128 ready pollables wasmtime 49
 * answers at most per call.
 */
export const SWEEP_PART: u32 = 100;

// Tags of poll-set entries: what a ready pollable means.
const TAG_IN: u32 = 0;
const TAG_CONNECT: u32 = 1;
const TAG_CLOCK: u32 = 0xffff_ffff;

// Scratch bits of a slot during epoll-wait.
const READY_IN: u32 = 1;
const READY_OUT: u32 = 2;
const READY_CONNECT: u32 = 4;

/** Descriptors with something to report in this wait, in order. */
let touched: usize = 0;
let touchedCount: u32 = 0;
let touchedCap: u32 = 0;
/** Handles of finish-connect results. */
const HANDLES: usize = memory.data(8, 4);
/** An always-ready pollable (a clock that already fired): time-out 0, sweeps. */
let readyNow: i32 = 0;
/** The descriptor the next wait's list starts at. */
let startFd: i32 = FIRST_FD;
/** Waits so far: where the reports of the next one start (see epollWait). */
let waits: u32 = 0;

export function inputPollable(s: usize): i32 {
  let p = slotInputPollable(s);
  if (p == 0) { p = subscribeInput(slotInput(s)); slotSetInputPollable(s, p); }
  return p;
}

export function outputPollable(s: usize): i32 {
  let p = slotOutputPollable(s);
  if (p == 0) { p = subscribeOutput(slotOutput(s)); slotSetOutputPollable(s, p); }
  return p;
}

export function socketPollable(s: usize): i32 {
  let p = slotSocketPollable(s);
  if (p == 0) { p = subscribeSocket(slotSocket(s)); slotSetSocketPollable(s, p); }
  return p;
}

function alwaysReady(): i32 {
  if (readyNow == 0) readyNow = subscribeDuration(0);
  return readyNow;
}

/** Makes room for `n` touched descriptors (at most one per descriptor). */
function reserveTouched(n: u32): void {
  if (n <= touchedCap) return;
  if (touched != 0) heap.free(touched);
  touchedCap = max(n, touchedCap << 1);
  touched = heap.alloc(<usize>touchedCap << 2);
}

/** Notes `bit` on `fd`; a descriptor not yet touched is taken only while
 *  fewer than `max` are (the rest stays ready for a later wait). */
function markTouched(fd: i32, s: usize, bit: u32, max: u32): void {
  const bits = slotReadyBits(s);
  if (bits == 0) {
    if (touchedCount >= max) return;
    store<i32>(touched + (<usize>touchedCount << 2), fd);
    touchedCount++;
  }
  slotSetReadyBits(s, bits | bit);
}

/** Marks what the last poll found ready (`count` pollables). */
function markPolled(count: u32, max: u32): void {
  for (let i: u32 = 0; i < count; i++) {
    const tag = psReadyTag(i);
    if (tag == TAG_CLOCK) continue;
    const fd = <i32>(tag >> 2);
    markTouched(fd, fdSlotAt(fd), (tag & 3) == TAG_IN ? READY_IN : READY_CONNECT, max);
  }
}

/** The events to report for a slot with ready `bits`, or 0 (nothing to say). */
function eventsOf(s: usize, bits: u32): u32 {
  if ((bits & READY_CONNECT) != 0) {
    const r = finishConnect(slotSocket(s), HANDLES);
    if (r == -EAGAIN) return 0;
    if (r < 0) {
      slotSetPendingError(s, r);
      return EPOLLOUT | EPOLLERR | EPOLLHUP;
    }
    slotSetStreams(s, load<i32>(HANDLES), load<i32>(HANDLES, 4));
    slotSetKind(s, EVENT_KIND_STREAM);
    return EPOLLOUT;
  }
  let ev: u32 = 0;
  if ((bits & READY_IN) != 0) ev |= EPOLLIN;
  if ((bits & READY_OUT) != 0) ev |= EPOLLOUT;
  return ev;
}

/**
 * Waits up to `timeout` ms (-1: no limit) and writes at most `max`
 * `ready` records to `dest`; returns their count. The epoll descriptor
 * was checked by the caller.
 */
export function epollWait(dest: usize, max: u32, timeout: i32): i32 {
  psClear();
  const high = fdHighWater();
  const span = high - FIRST_FD;
  reserveTouched(<u32>span);
  touchedCount = 0;
  const start = startFd < high ? startFd : FIRST_FD;
  /** The first descriptor (in this wait's order) whose readiness was not looked at, or -1. */
  let unseen: i32 = -1;
  // Output readiness is asked without blocking (see WRITE_RETRY_NS): a
  // stream whose last write is still being sent is polled again soon.
  let writableNow = false;
  let writePending = false;
  for (let i: i32 = 0; i < span; i++) {
    const fd = start + i < high ? start + i : start + i - span;
    const s = fdSlotAt(fd);
    if (!slotRegistered(s)) continue;
    const interest = slotInterest(s);
    const kind = slotKind(s);
    if (kind == EVENT_KIND_STREAM) {
      if ((interest & EPOLLIN) != 0) psAdd(inputPollable(s), (<u32>fd << 2) | TAG_IN);
      if ((interest & EPOLLOUT) != 0) {
        if (touchedCount >= max) { writePending = true; if (unseen < 0) unseen = fd; }
        else if (isReady(outputPollable(s))) { markTouched(fd, s, READY_OUT, max); writableNow = true; }
        else writePending = true;
      }
    } else if (kind == EVENT_KIND_LISTENER) {
      if ((interest & EPOLLIN) != 0) psAdd(socketPollable(s), (<u32>fd << 2) | TAG_IN);
    } else if (kind == EVENT_KIND_CONNECTING) {
      if ((interest & EPOLLOUT) != 0) psAdd(socketPollable(s), (<u32>fd << 2) | TAG_CONNECT);
    }
  }
  // The time-out, as one more pollable (poll itself has none).
  let ns: u64 = timeout < 0 ? IDLE_NS : <u64>timeout * 1_000_000;
  if (writableNow) ns = 0;
  if (writePending || lingering() != 0) ns = min(ns, WRITE_RETRY_NS);

  const count = psCount();
  const part = min(SWEEP_PART, max);
  let swept: u32 = 0;
  if (count > part) {
    while (swept < count && touchedCount + part <= max) {
      const len = min(part, count - swept);
      markPolled(psPollPart(swept, len, alwaysReady(), TAG_CLOCK), max);
      swept += len;
    }
    if (swept < count) {
      const fd = <i32>(psTag(swept) >> 2);
      if (unseen < 0 || (fd - start + span) % span < (unseen - start + span) % span) unseen = fd;
    }
  }
  if (count <= part || (touchedCount == 0 && ns != 0)) {
    let clock: i32 = 0;
    if (ns == 0) {
      psAdd(alwaysReady(), TAG_CLOCK);
    } else if (timeout >= 0 || count == 0 || ns < IDLE_NS) {
      clock = subscribeDuration(ns);
      psAdd(clock, TAG_CLOCK);
    }
    markPolled(psPoll(), max);
    if (clock != 0) dropPollable(clock);
  }
  startFd = unseen >= 0 ? unseen : start;

  // Reports start at a place that moves every wait: the runtime answers
  // in an order of its own, and whoever comes first is served first.
  const first: u32 = touchedCount == 0 ? 0 : waits % touchedCount;
  waits++;
  let n: u32 = 0;
  for (let k: u32 = 0; k < touchedCount; k++) {
    const i = first + k < touchedCount ? first + k : first + k - touchedCount;
    const fd = load<i32>(touched + (<usize>i << 2));
    const s = fdSlotAt(fd);
    const bits = slotReadyBits(s);
    slotSetReadyBits(s, 0);
    const ev = eventsOf(s, bits) & (slotInterest(s) | EPOLLERR | EPOLLHUP);
    if (ev == 0) continue;
    const r = dest + <usize>n * READY_SIZE;
    store<u32>(r, slotToken(s), READY_TOKEN_OFFSET);
    store<u32>(r, ev, READY_EVENTS_OFFSET);
    n++;
  }
  return <i32>n;
}
