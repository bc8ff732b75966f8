/**
 * The peers of UDP sockets: one virtual connection per (socket, remote
 * address), made when the address's first datagram arrives. A table of
 * fixed-size slots grown on demand (doubling), and a hash index from
 * (socket, address) to slot. No syscalls here.
 *
 * Slot layout (48 bytes):
 *
 *   p+0    p+1    p+2       p+4        p+8       p+12        p+16        p+20             p+48
 *   +------+------+---------+----------+---------+-----------+-----------+----------------+
 *   |state |flags | gen u16 | socket fd| next u32| queued u32| addr len  | address (28 B) |
 *   +------+------+---------+----------+---------+-----------+-----------+----------------+
 *
 *   state:   FREE or LIVE
 *   flags:   PEER_ENDING (close once its queued datagrams are sent),
 *            PEER_PAUSED (its datagrams are dropped: `pause-reading`)
 *   gen:     generation, as in conn-table.ts: 1..GEN_MAX, bumped on release
 *   next:    1 + index of the next peer in the same hash bucket (0: none);
 *            in a free slot, 1 + index of the next free slot
 *   queued:  bytes of its datagrams waiting in the socket's write queue
 *   address: as the kernel gives it (a Linux sockaddr_in or sockaddr_in6)
 *
 * Handle = PEER_BIT | gen << 20 | index (constants.ts).
 */
import { FD_BITS, FD_MASK, GEN_MAX, PEER_BIT } from "./generated/abi";
import { heapAlloc, heapFree } from "./heap";

const SLOT: usize = 48;
/** Most bytes of a peer's address. */
export const MAX_ADDRESS: u32 = 28;
const MAX_PEERS: u32 = 1 << 20;
const INITIAL_SLOTS: u32 = 256;

const STATE_FREE: u8 = 0;
const STATE_LIVE: u8 = 1;

export const PEER_ENDING: u8 = 1;
export const PEER_PAUSED: u8 = 2;

let slots: usize = 0;
let capacity: u32 = 0;
/** Slots ever used: [0, used) have been live at least once. */
let used: u32 = 0;
/** 1 + index of the first free slot below `used` (0: none). */
let freeHead: u32 = 0;
let live: u32 = 0;
/** 1 + index of the first peer of each bucket; a power of two of them. */
let buckets: usize = 0;
let bucketCount: u32 = 0;

@inline function slotAt(index: u32): usize { return slots + <usize>index * SLOT; }
@inline function indexOf(p: usize): u32 { return <u32>((p - slots) / SLOT); }
@inline function genOf(p: usize): u32 { const g = <u32>load<u16>(p, 2); return g == 0 ? 1 : g; }
@inline function nextOf(p: usize): u32 { return load<u32>(p, 8); }
@inline function setNext(p: usize, v: u32): void { store<u32>(p, v, 8); }

/** FNV-1a over the socket descriptor and the address bytes. */
function hashOf(fd: i32, addr: usize, len: u32): u32 {
  let h: u32 = 0x811c9dc5 ^ <u32>fd;
  h *= 0x01000193;
  for (let i: u32 = 0; i < len; i++) {
    h ^= <u32>load<u8>(addr + <usize>i);
    h *= 0x01000193;
  }
  return h;
}

@inline function bucketOf(h: u32): usize { return buckets + (<usize>(h & (bucketCount - 1)) << 2); }

function matches(p: usize, fd: i32, addr: usize, len: u32): bool {
  if (load<i32>(p, 4) != fd || load<u32>(p, 16) != len) return false;
  return memory.compare(p + 20, addr, <usize>len) == 0;
}

function link(p: usize): void {
  const b = bucketOf(hashOf(load<i32>(p, 4), p + 20, load<u32>(p, 16)));
  setNext(p, load<u32>(b));
  store<u32>(b, indexOf(p) + 1);
}

/** Makes the index as large as a table of `cap` slots (load factor 1). False when the memory cannot be had. */
function growBuckets(cap: u32): bool {
  if (bucketCount >= cap) return true;
  const fresh = heapAlloc(<usize>cap << 2);
  if (fresh == 0) return false;
  if (buckets != 0) heapFree(buckets);
  buckets = fresh;
  bucketCount = cap;
  memory.fill(buckets, 0, <usize>bucketCount << 2);
  for (let i: u32 = 0; i < used; i++) {
    const p = slotAt(i);
    if (load<u8>(p) == STATE_LIVE) link(p);
  }
  return true;
}

/** Doubles the table. False when it is full or the memory cannot be had. */
function growSlots(): bool {
  if (capacity >= MAX_PEERS) return false;
  const cap = capacity == 0 ? INITIAL_SLOTS : capacity << 1;
  const fresh = heapAlloc(<usize>cap * SLOT);
  if (fresh == 0) return false;
  if (slots != 0) {
    memory.copy(fresh, slots, <usize>capacity * SLOT);
    heapFree(slots);
  }
  memory.fill(fresh + <usize>capacity * SLOT, 0, <usize>(cap - capacity) * SLOT);
  slots = fresh;
  capacity = cap;
  return true;
}

/** Live peers, of every socket. */
export function peerCount(): u32 { return live; }

/** The live peer of socket `fd` at the address [addr, addr+len), or 0. */
export function peerFind(fd: i32, addr: usize, len: u32): usize {
  if (live == 0) return 0;
  let i = load<u32>(bucketOf(hashOf(fd, addr, len)));
  while (i != 0) {
    const p = slotAt(i - 1);
    if (matches(p, fd, addr, len)) return p;
    i = nextOf(p);
  }
  return 0;
}

/** Makes a peer of socket `fd` for the address (at most MAX_ADDRESS
 *  bytes); returns its slot, or 0 when the table is full. */
export function peerOpen(fd: i32, addr: usize, len: u32): usize {
  let index: u32;
  if (freeHead != 0) {
    index = freeHead - 1;
    freeHead = nextOf(slotAt(index));
  } else {
    if (used == capacity && !growSlots()) return 0;
    // The index grows with the table; a failure leaves the old one, with longer chains.
    if (!growBuckets(capacity) && bucketCount == 0) return 0;
    index = used++;
  }
  const p = slotAt(index);
  store<u16>(p, <u16>genOf(p), 2);
  store<u8>(p, STATE_LIVE);
  store<u8>(p, 0, 1);
  store<i32>(p, fd, 4);
  store<u32>(p, 0, 12);
  store<u32>(p, len, 16);
  memory.copy(p + 20, addr, <usize>len);
  link(p);
  live++;
  return p;
}

/** Frees a live peer's slot; every handle issued for it goes stale. */
export function peerRelease(p: usize): void {
  const index = indexOf(p);
  const b = bucketOf(hashOf(load<i32>(p, 4), p + 20, load<u32>(p, 16)));
  let at = b;
  let i = load<u32>(b);
  while (i != 0 && i != index + 1) {
    at = slotAt(i - 1) + 8;
    i = nextOf(slotAt(i - 1));
  }
  store<u32>(at, nextOf(p));
  let g = genOf(p) + 1;
  if (g > GEN_MAX) g = 1;
  store<u16>(p, <u16>g, 2);
  store<u8>(p, STATE_FREE);
  setNext(p, freeHead);
  freeHead = index + 1;
  live--;
}

/** The slot a peer handle names, or 0 when it is not live. */
export function peerLookup(handle: u32): usize {
  if ((handle & PEER_BIT) == 0) return 0;
  const index = handle & FD_MASK;
  if (index >= used) return 0;
  const p = slotAt(index);
  if (load<u8>(p) != STATE_LIVE || genOf(p) != ((handle & ~PEER_BIT) >> FD_BITS)) return 0;
  return p;
}

/** The live peer in slot `index` (0 <= index < peerSlots()), or 0. */
export function peerAt(index: u32): usize {
  const p = slotAt(index);
  return load<u8>(p) == STATE_LIVE ? p : 0;
}

/** Number of slots ever used (an upper bound for `peerAt`). */
export function peerSlots(): u32 { return used; }

@inline export function peerHandle(p: usize): u32 { return PEER_BIT | (genOf(p) << FD_BITS) | indexOf(p); }
@inline export function peerSocket(p: usize): i32 { return load<i32>(p, 4); }
@inline export function peerFlags(p: usize): u8 { return load<u8>(p, 1); }
@inline export function peerSetFlags(p: usize, f: u8): void { store<u8>(p, f, 1); }
@inline export function peerQueued(p: usize): u32 { return load<u32>(p, 12); }
@inline export function peerSetQueued(p: usize, n: u32): void { store<u32>(p, n, 12); }
@inline export function peerAddress(p: usize): usize { return p + 20; }
@inline export function peerAddressLength(p: usize): u32 { return load<u32>(p, 16); }
