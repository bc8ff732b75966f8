/**
 * Sockets closed gracefully whose last write the runtime is still sending.
 *
 * wasmtime hands a write the socket could not take at once to a background
 * task, and dropping the output stream aborts that task. So a graceful
 * close (sys/wasi.ts `sysCloseGraceful`) frees the descriptor but keeps the
 * socket and its output stream here until the stream's pollable is ready
 * (the runtime handed every byte to the system), at most LINGER_NS.
 * `epoll-wait` settles them after each wait and bounds its waits while any
 * is here. The resources are dropped children first: pollable, stream,
 * socket.
 *
 * Entry (ENTRY_SIZE bytes, in one growable array):
 *
 *   [0] i32 socket   [4] i32 output stream   [8] i32 its pollable
 *   [16] u64 deadline (monotonic ns)
 */
import { monotonicNow } from "./clocks";
import { dropOutputStream, dropPollable, isReady } from "./io";
import { dropSocket } from "./sockets";

/** Longest a gracefully closed socket waits for its last write. */
const LINGER_NS: u64 = 30_000_000_000;
const ENTRY_SIZE: usize = 24;

let entries: usize = 0;
let count: u32 = 0;
let cap: u32 = 0;

@inline function entry(i: u32): usize { return entries + <usize>i * ENTRY_SIZE; }

/** Drops entry `i` (moving the last one into its place). */
function drop(i: u32): void {
  const e = entry(i);
  dropPollable(load<i32>(e, 8));
  dropOutputStream(load<i32>(e, 4));
  dropSocket(load<i32>(e));
  count--;
  if (i != count) memory.copy(e, entry(count), ENTRY_SIZE);
}

/** How many sockets linger. */
export function lingering(): u32 { return count; }

/** Keeps `socket` and its `output` stream (with the stream's `pollable`)
 *  until the last write is done; owns all three from now on. */
export function addLinger(socket: i32, output: i32, pollable: i32): void {
  if (count == cap) {
    const newCap = cap == 0 ? 16 : cap << 1;
    const fresh = heap.alloc(<usize>newCap * ENTRY_SIZE);
    if (entries != 0) { memory.copy(fresh, entries, <usize>count * ENTRY_SIZE); heap.free(entries); }
    entries = fresh;
    cap = newCap;
  }
  const e = entry(count++);
  store<i32>(e, socket);
  store<i32>(e, output, 4);
  store<i32>(e, pollable, 8);
  store<u64>(e, monotonicNow() + LINGER_NS, 16);
}

/** Drops the sockets whose last write is done or whose time is up. */
export function settleLingers(): void {
  if (count == 0) return;
  const now = monotonicNow();
  let i: u32 = 0;
  while (i < count) {
    const e = entry(i);
    if (now >= load<u64>(e, 16) || isReady(load<i32>(e, 8))) drop(i);
    else i++;
  }
}

/** Drops every lingering socket now (nothing will settle them any more). */
export function dropLingers(): void {
  while (count != 0) drop(count - 1);
}
