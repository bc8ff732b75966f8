/**
 * What waits, in the WASI build, for the runtime to finish the last write
 * of a stream. wasmtime hands a write the socket could not take at once to
 * a background task, which dropping the output stream aborts; jco's
 * preview2-shim queues it in a Node socket until `flush` says it is out.
 * Either way the stream's pollable is ready once the write is done (after
 * `flush`). `epoll-wait` settles both lists after each wait and bounds its
 * waits while either holds anything (`lingering`).
 *
 *  - Shutdowns: `shutdown(SHUT_WR)` of an open stream (sys/wasi.ts
 *    `sysShutdown`). Shutting the sending side while the runtime still
 *    writes could cut the write, so the FIN (`tcp-socket.shutdown(send)`)
 *    goes once the write is done. The descriptor stays open, and reading
 *    goes on, meanwhile; it owns the socket and the pollable, which this
 *    list only names, and closing it cancels its entry (`cancelShutdown`).
 *    Entry: [0] i32 fd  [4] i32 socket  [8] i32 output stream's pollable.
 *  - Closes: sockets closed gracefully (`sysCloseGraceful`): the descriptor
 *    is free at once, the socket and its output stream stay here, owned,
 *    until the write is done, at most LINGER_NS, then are dropped children
 *    first: pollable, stream, socket.
 *    Entry: [0] i32 socket  [4] i32 output stream  [8] i32 its pollable
 *    [16] u64 deadline (monotonic ns).
 */
import { monotonicNow } from "./clocks";
import { dropOutputStream, dropPollable, isReady } from "./io";
import { dropSocket, shutdownSend } from "./sockets";

/** Longest a gracefully closed socket waits for its last write. */
const LINGER_NS: u64 = 30_000_000_000;

/** A growable array of fixed-size entries in linear memory; removing one
 *  moves the last one into its place. */
class Entries {
  base: usize = 0;
  count: u32 = 0;
  cap: u32 = 0;

  constructor(readonly size: usize) {}

  @inline at(i: u32): usize { return this.base + <usize>i * this.size; }

  /** A new entry at the end (its bytes are the caller's to fill). */
  add(): usize {
    if (this.count == this.cap) {
      const newCap = this.cap == 0 ? 16 : this.cap << 1;
      const fresh = heap.alloc(<usize>newCap * this.size);
      if (this.base != 0) { memory.copy(fresh, this.base, <usize>this.count * this.size); heap.free(this.base); }
      this.base = fresh;
      this.cap = newCap;
    }
    return this.at(this.count++);
  }

  remove(i: u32): void {
    this.count--;
    if (i != this.count) memory.copy(this.at(i), this.at(this.count), this.size);
  }
}

const shutdowns = new Entries(12);
const closes = new Entries(24);

/** Drops closed entry `i`'s resources, children first, and the entry. */
function dropClosed(i: u32): void {
  const e = closes.at(i);
  dropPollable(load<i32>(e, 8));
  dropOutputStream(load<i32>(e, 4));
  dropSocket(load<i32>(e));
  closes.remove(i);
}

/** How many shutdowns and closes wait. */
export function lingering(): u32 { return shutdowns.count + closes.count; }

/**
 * Shuts the sending side of open stream `fd` (`socket`, whose output
 * stream was flushed and has `pollable`) now if its last write is done,
 * else once it is. 0, or the -errno of a shutdown made now.
 */
export function shutWhenWritten(fd: i32, socket: i32, pollable: i32): i32 {
  if (isReady(pollable)) return shutdownSend(socket);
  const e = shutdowns.add();
  store<i32>(e, fd);
  store<i32>(e, socket, 4);
  store<i32>(e, pollable, 8);
  return 0;
}

/** `fd` closes: its shutdown, if one waits, will not happen (the close ends the stream). */
export function cancelShutdown(fd: i32): void {
  for (let i: u32 = 0; i < shutdowns.count; i++) {
    if (load<i32>(shutdowns.at(i)) == fd) { shutdowns.remove(i); return; }
  }
}

/** Keeps `socket` and its `output` stream (with the stream's `pollable`)
 *  until the last write is done; owns all three from now on. */
export function addLinger(socket: i32, output: i32, pollable: i32): void {
  const e = closes.add();
  store<i32>(e, socket);
  store<i32>(e, output, 4);
  store<i32>(e, pollable, 8);
  store<u64>(e, monotonicNow() + LINGER_NS, 16);
}

/** Sends the FIN of the shutdowns whose last write is done; drops the
 *  closed sockets whose last write is done or whose time is up. */
export function settleLingers(): void {
  let i: u32 = 0;
  while (i < shutdowns.count) {
    const e = shutdowns.at(i);
    if (!isReady(load<i32>(e, 8))) { i++; continue; }
    // A failed shutdown (a reset connection) shows on the next read.
    shutdownSend(load<i32>(e, 4));
    shutdowns.remove(i);
  }
  if (closes.count == 0) return;
  const now = monotonicNow();
  i = 0;
  while (i < closes.count) {
    const e = closes.at(i);
    if (now >= load<u64>(e, 16) || isReady(load<i32>(e, 8))) dropClosed(i);
    else i++;
  }
}

/** Drops every lingering socket now and forgets the shutdowns (nothing
 *  will settle them any more). */
export function dropLingers(): void {
  shutdowns.count = 0;
  while (closes.count != 0) dropClosed(closes.count - 1);
}
