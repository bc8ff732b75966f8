/**
 * Socket addresses as text <-> the ip-socket-address layout of sockets.ts.
 *
 * Accepted forms (the same as the Node build's): `a.b.c.d:port`,
 * `[ipv6]:port`, `:port` (every IPv4 interface) and `name:port`, where a
 * name is resolved with wasi:sockets/ip-name-lookup. Formatting gives
 * `a.b.c.d:port` or `[ipv6]:port` (RFC 5952: lower-case hex, the longest
 * run of two or more zero groups written `::`). Works on UTF-8 bytes in
 * linear memory, allocating nothing.
 */
import { EINVAL } from "../constants";
import { FAMILY_IPV4, FAMILY_IPV6, SOCKADDR_SIZE, resolveFirst } from "./sockets";

/** Longest text `formatAddress` writes: "[" + 39 + "]:" + 5. */
export const MAX_ADDRESS_TEXT: u32 = 48;

const COLON: u8 = 0x3a;
const DOT: u8 = 0x2e;

@inline function digit(c: u8): i32 { return c >= 0x30 && c <= 0x39 ? <i32>c - 0x30 : -1; }

function hexDigit(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return <i32>c - 0x61 + 10;
  return -1;
}

/** Decimal number in [p, end), at most `max`; -1 if malformed. */
function decimal(p: usize, end: usize, max: i32): i32 {
  if (p == end || end - p > 5) return -1;
  let v = 0;
  for (; p < end; p++) {
    const d = digit(load<u8>(p));
    if (d < 0) return -1;
    v = v * 10 + d;
  }
  return v <= max ? v : -1;
}

/** Dotted quad in [p, end) to 4 bytes at `out`. */
function parseIpv4(p: usize, end: usize, out: usize): bool {
  for (let i = 0; i < 4; i++) {
    let q = p;
    while (q < end && load<u8>(q) != DOT) q++;
    if ((q == end) != (i == 3)) return false;
    const v = decimal(p, q, 255);
    if (v < 0) return false;
    store<u8>(out + <usize>i, <u8>v);
    p = q + 1;
  }
  return true;
}

/** IPv6 text in [p, end) to 8 u16 at `out` (no embedded IPv4, no zone). */
function parseIpv6(p: usize, end: usize, out: usize): bool {
  let n = 0;         // groups written
  let gap = -1;      // index where "::" stood
  if (end - p >= 2 && load<u8>(p) == COLON && load<u8>(p + 1) == COLON) { gap = 0; p += 2; }
  while (p < end) {
    if (n == 8) return false;
    let v = 0, k = 0;
    while (p < end && k < 5) {
      const d = hexDigit(load<u8>(p));
      if (d < 0) break;
      v = (v << 4) | d; k++; p++;
    }
    if (k == 0 || k > 4) return false;
    store<u16>(out + (<usize>n << 1), <u16>v);
    n++;
    if (p == end) break;
    if (load<u8>(p) != COLON) return false;
    p++;
    if (p < end && load<u8>(p) == COLON) {
      if (gap >= 0) return false;
      gap = n; p++;
    } else if (p == end) {
      return false; // trailing single colon
    }
  }
  if (gap < 0) return n == 8;
  if (n == 8) return false;
  // Slide the groups after the gap to the end, zero the gap.
  const after = n - gap;
  memory.copy(out + (<usize>(8 - after) << 1), out + (<usize>gap << 1), <usize>after << 1);
  memory.fill(out + (<usize>gap << 1), 0, <usize>(8 - n) << 1);
  return true;
}

/**
 * Parses the address text [ptr, ptr+len) into an ip-socket-address at
 * `sa` (SOCKADDR_SIZE bytes). A host name is resolved (blocking). Returns
 * 0, -EINVAL for malformed text, or the resolver's -errno.
 */
export function parseAddress(ptr: usize, len: u32, sa: usize): i32 {
  const end = ptr + <usize>len;
  memory.fill(sa, 0, SOCKADDR_SIZE);
  let hostStart = ptr, hostEnd: usize, portStart: usize;
  if (len != 0 && load<u8>(ptr) == 0x5b) { // '['
    let q = ptr + 1;
    while (q < end && load<u8>(q) != 0x5d) q++; // ']'
    if (q + 1 >= end || load<u8>(q + 1) != COLON) return -EINVAL;
    if (!parseIpv6(ptr + 1, q, sa + 12)) return -EINVAL;
    store<u8>(sa, FAMILY_IPV6);
    portStart = q + 2;
  } else {
    let colon = end;
    for (let q = ptr; q < end; q++) if (load<u8>(q) == COLON) { if (colon != end) return -EINVAL; colon = q; }
    if (colon == end) return -EINVAL;
    hostEnd = colon;
    portStart = colon + 1;
    if (hostStart == hostEnd) {
      store<u8>(sa, FAMILY_IPV4); // every interface: 0.0.0.0
    } else if (parseIpv4(hostStart, hostEnd, sa + 6)) {
      store<u8>(sa, FAMILY_IPV4);
    } else {
      const r = resolveFirst(hostStart, <u32>(hostEnd - hostStart), sa);
      if (r < 0) return r;
    }
  }
  const port = decimal(portStart, end, 65535);
  if (port < 0) return -EINVAL;
  store<u16>(sa, <u16>port, 4);
  return 0;
}

function putDecimal(dest: usize, v: u32): usize {
  let digits: u32 = 1;
  for (let t = v; t >= 10; t /= 10) digits++;
  for (let i = digits; i > 0; i--) { store<u8>(dest + <usize>i - 1, <u8>(0x30 + v % 10)); v /= 10; }
  return dest + <usize>digits;
}

function putHex(dest: usize, v: u32): usize {
  let shift = 12;
  while (shift > 0 && ((v >> shift) & 0xf) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) {
    const d = (v >> shift) & 0xf;
    store<u8>(dest++, <u8>(d < 10 ? 0x30 + d : 0x61 + d - 10));
  }
  return dest;
}

/** Writes the address at `sa` as text at `dest` (room for
 *  MAX_ADDRESS_TEXT bytes); returns the length. */
export function formatAddress(sa: usize, dest: usize): u32 {
  let p = dest;
  if (load<u8>(sa) == FAMILY_IPV4) {
    for (let i: usize = 0; i < 4; i++) {
      if (i != 0) store<u8>(p++, DOT);
      p = putDecimal(p, load<u8>(sa + 6 + i));
    }
  } else {
    // The longest run of >= 2 zero groups becomes "::".
    let best = -1, bestLen = 1;
    for (let i = 0; i < 8;) {
      let j = i;
      while (j < 8 && load<u16>(sa + 12 + (<usize>j << 1)) == 0) j++;
      if (j - i > bestLen) { best = i; bestLen = j - i; }
      i = j == i ? i + 1 : j;
    }
    store<u8>(p++, 0x5b);
    for (let i = 0; i < 8; i++) {
      if (i == best) {
        store<u8>(p++, COLON); store<u8>(p++, COLON);
        i += bestLen - 1;
        continue;
      }
      if (i != 0 && i != best + bestLen) store<u8>(p++, COLON);
      p = putHex(p, load<u16>(sa + 12 + (<usize>i << 1)));
    }
    store<u8>(p++, 0x5d);
  }
  store<u8>(p++, COLON);
  p = putDecimal(p, load<u16>(sa, 4));
  return <u32>(p - dest);
}
