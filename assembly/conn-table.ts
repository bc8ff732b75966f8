/**
 * The connection table: one 16-byte slot per file descriptor, indexed by
 * fd, grown on demand (doubling) up to MAX_FDS (2^20). No syscalls here.
 *
 * Slot layout:
 *
 *   s+0        s+2                 s+4                          s+16
 *   +----------+-------------------+----------------------------+
 *   | flags u16| gen << 2 | state  | write queue (write-buffer) |
 *   |          |       u16         | head | tail | bytes        |
 *   +----------+-------------------+----------------------------+
 *
 *   state: FREE, LISTENER (a listening socket, or a UDP socket serving
 *          peers), CONNECTING, OPEN (the low 2 bits of the word at s+2)
 *   flags: one bit each, whatever the slot's kind, so a listener's flag
 *          can never be read as a connection's (or the other way round):
 *     shared by every slot:
 *          FLAG_OUT (EPOLLOUT armed; always set in edge-triggered mode),
 *          FLAG_DATAGRAM (a UDP socket: one datagram per read and write)
 *     of listeners:
 *          FLAG_PAUSED (accepting paused), FLAG_ACCEPTOR (accepted sockets
 *          go to the host: `add-acceptor`), FLAG_DRAINING (a UDP socket
 *          removed by `remove-listener`: no new peers, closes with its
 *          last peer), FLAG_NOT_TCP (its connections refuse TCP_NODELAY:
 *          not asked again)
 *     of connections:
 *          FLAG_ENDING (`end` of a UDP connection, which has no
 *          direction to shut: close once the queue is sent),
 *          FLAG_READ_PAUSED (no read interest: `pause-reading`),
 *          FLAG_PARKED (paused and hung up: out of the epoll set until resumed),
 *          FLAG_PEER_ENDED (the peer ended its side: no read interest),
 *          FLAG_SHUT_WR (`end` or `close-write` of a stream: shut this
 *          side once the queue is empty, then linger until the peer ends),
 *          FLAG_PEER_FIRST (the peer ended its side before this side did)
 *   gen:   generation of the current (or, when FREE, the next) occupant,
 *          1..GEN_MAX; 0 in a never-used slot means 1.
 *
 * Handle (also the epoll token) = gen << 20 | fd. `gen` is never 0, so a
 * handle is never 0; releasing a slot bumps `gen`, so a stale handle (or a
 * stale epoll token from the same batch) no longer matches. Generations
 * wrap after GEN_MAX (2047) reuses of the same fd.
 */
import { EMFILE, ENOMEM } from "./constants";
import { FD_BITS, FD_MASK, GEN_MAX, MAX_FDS } from "./generated/abi";
import { heapAlloc, heapFree } from "./heap";
import { wbClear, wbInit } from "./write-buffer";

/** log2 of the slot size (16 bytes). */
const SLOT_SHIFT: usize = 4;

export const STATE_FREE: u8 = 0;
export const STATE_LISTENER: u8 = 1;
export const STATE_CONNECTING: u8 = 2;
export const STATE_OPEN: u8 = 3;

export const FLAG_OUT: u16 = 1 << 0;
export const FLAG_DATAGRAM: u16 = 1 << 1;
// listeners
export const FLAG_PAUSED: u16 = 1 << 2;
export const FLAG_ACCEPTOR: u16 = 1 << 3;
export const FLAG_DRAINING: u16 = 1 << 4;
export const FLAG_NOT_TCP: u16 = 1 << 5;
// connections
export const FLAG_PEER_FIRST: u16 = 1 << 6;
export const FLAG_ENDING: u16 = 1 << 7;
export const FLAG_READ_PAUSED: u16 = 1 << 8;
export const FLAG_PARKED: u16 = 1 << 9;
export const FLAG_PEER_ENDED: u16 = 1 << 10;
export const FLAG_SHUT_WR: u16 = 1 << 11;

/** The state's bits in the word at s+2; the generation is above them. */
const STATE_MASK: u16 = 3;
const GEN_SHIFT: u16 = 2;

const INITIAL_SLOTS: i32 = 1024;

let slots: usize = 0;
let capacity: i32 = 0;
let liveConns: i32 = 0;
let listeners: i32 = 0;

/** Number of slots currently allocated. */
export function ctCapacity(): i32 { return capacity; }
/** Connections (CONNECTING or OPEN) in the table; listeners not counted. */
export function ctLiveConns(): i32 { return liveConns; }
/** Listeners in the table. */
export function ctListeners(): i32 { return listeners; }

/** Makes sure `fd` has a slot. Returns 0, -EMFILE if fd < 0 or fd >=
 *  MAX_FDS, or -ENOMEM if the table cannot grow. */
export function ctEnsure(fd: i32): i32 {
  if (fd < 0 || fd >= MAX_FDS) return -EMFILE;
  if (fd < capacity) return 0;
  let cap = capacity == 0 ? INITIAL_SLOTS : capacity;
  while (cap <= fd) cap <<= 1;
  if (cap > MAX_FDS) cap = MAX_FDS;
  const bytes = <usize>cap << SLOT_SHIFT;
  const fresh = heapAlloc(bytes);
  if (fresh == 0) return -ENOMEM;
  const old = <usize>capacity << SLOT_SHIFT;
  if (slots != 0) {
    memory.copy(fresh, slots, old);
    heapFree(slots);
  }
  memory.fill(fresh + old, 0, bytes - old);
  slots = fresh;
  capacity = cap;
  return 0;
}

/** Slot address of `fd` (which must be < ctCapacity()). */
@inline export function ctSlot(fd: i32): usize { return slots + (<usize>fd << SLOT_SHIFT); }

@inline export function slotState(s: usize): u8 { return load<u8>(s, 2) & <u8>STATE_MASK; }
@inline export function slotSetState(s: usize, state: u8): void {
  store<u16>(s, (load<u16>(s, 2) & ~STATE_MASK) | <u16>state, 2);
}
@inline export function slotFlags(s: usize): u16 { return load<u16>(s); }
@inline export function slotSetFlags(s: usize, f: u16): void { store<u16>(s, f); }
@inline export function slotQueue(s: usize): usize { return s + 4; }

@inline function genOf(s: usize): u32 {
  const g = <u32>(load<u16>(s, 2) >> GEN_SHIFT);
  return g == 0 ? 1 : g;
}

/** The handle naming the occupant of `fd`'s slot. */
export function ctHandle(fd: i32): u32 {
  return (genOf(ctSlot(fd)) << FD_BITS) | <u32>fd;
}

/** Occupies the (FREE) slot of `fd` with `state`; returns the handle.
 *  Call ctEnsure(fd) first. */
export function ctOpen(fd: i32, state: u8): u32 {
  const s = ctSlot(fd);
  const g = genOf(s);
  store<u16>(s, <u16>(g << GEN_SHIFT) | <u16>state, 2);
  slotSetFlags(s, 0);
  wbInit(slotQueue(s));
  if (state != STATE_LISTENER) liveConns++;
  else listeners++;
  return (g << FD_BITS) | <u32>fd;
}

/** Frees the slot of `fd`: drops its write queue, bumps the generation so
 *  every handle issued for it so far goes stale. */
export function ctRelease(fd: i32): void {
  const s = ctSlot(fd);
  const state = slotState(s);
  if (state == STATE_FREE) return;
  if (state != STATE_LISTENER) liveConns--;
  else listeners--;
  wbClear(slotQueue(s));
  let g = genOf(s) + 1;
  if (g > GEN_MAX) g = 1;
  store<u16>(s, <u16>(g << GEN_SHIFT) | <u16>STATE_FREE, 2);
  slotSetFlags(s, 0);
}

/** The slot a handle names, or 0 when the handle is not live (free slot,
 *  other generation, fd out of range). */
export function ctLookup(handle: u32): usize {
  const fd = <i32>(handle & FD_MASK);
  if (fd >= capacity) return 0;
  const s = ctSlot(fd);
  if (slotState(s) == STATE_FREE) return 0;
  if (genOf(s) != (handle >> FD_BITS)) return 0;
  return s;
}
