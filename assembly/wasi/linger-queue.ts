/**
 * The command loop's linger time-out (loop.ts). A connection the program
 * ended (`conn.end()`) sends everything, then its FIN, and reads on until
 * the peer ends too (the reactor's lingering close); past the program's
 * `lingerTimeoutMs` the loop closes it, and the reactor reads and drops
 * the input left rather than resetting the connection. Every connection
 * waits the same time, so the queue, first in first out, is in deadline
 * order. An entry whose connection closed before its time is closed again
 * harmlessly (the reactor answers -EBADF to a dead handle).
 */
import { CLOSE_CAUSE_LOCAL } from "../generated/abi";
import { reactorClose } from "../reactor";

const handles = new Array<u32>();
const deadlines = new Array<u64>();
let head: i32 = 0;

/** Connection `handle` sent its FIN: it is closed at `at` (monotonic ns) unless the peer ended first. */
export function lingerUntil(handle: u32, at: u64): void {
  handles.push(handle);
  deadlines.push(at);
}

/** The earliest time a waiting connection is closed at, or u64.MAX_VALUE. */
export function nextLingerDeadline(): u64 {
  return head < handles.length ? deadlines[head] : u64.MAX_VALUE;
}

/** Closes (cause local) every waiting connection whose time is up at `now`. */
export function expireLingers(now: u64): void {
  while (head < handles.length && deadlines[head] <= now) {
    reactorClose(handles[head], CLOSE_CAUSE_LOCAL);
    head++;
  }
  if (head < handles.length && head < (handles.length >> 1)) return;
  // Most of the queue is spent: keep only what waits.
  const rest = handles.length - head;
  for (let i = 0; i < rest; i++) {
    handles[i] = handles[head + i];
    deadlines[i] = deadlines[head + i];
  }
  handles.length = rest;
  deadlines.length = rest;
  head = 0;
}
