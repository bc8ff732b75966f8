// Fault injection: the reactor (fast path) against the in-memory kernel,
// with a seeded random mix of peers connecting, sending, reading slowly,
// ending and resetting, and the host writing, closing and polling. Whatever
// the interleaving, the invariants of the write path and of closing hold.
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../host/guest-memory.js';
import { EVENT_WORDS, EventKind, FD_MASK, instantiateReactor, type Reactor } from '../host/reactor.js';
import { FakeKernel, type Peer } from '../host/sys/fake.js';
import { lowerSys } from '../host/sys/lower.js';

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}

interface Tracked {
  peer: Peer;
  handle: number;
  /** Bytes the reactor accepted for writing (write returned their length), in order. */
  accepted: number[];
  /** Bytes the peer sent. */
  sent: number[];
  /** Bytes delivered in `data` events. */
  delivered: number[];
  closes: number[];
  /** The peer reset or ended, or the host closed: delivery may stop early. */
  cut: boolean;
}

function bytes(rand: (n: number) => number, len: number): Uint8Array {
  return Uint8Array.from({ length: len }, () => rand(256));
}

function run(seed: number): { conns: Tracked[]; kernel: FakeKernel } {
  const rand = prng(seed);
  const kernel = new FakeKernel();
  const mem = new GuestMemory();
  const r: Reactor = instantiateReactor(lowerSys(kernel, mem), mem);
  const maxWb = [0, 256, 4096][rand(3)];
  r.init(1 + rand(64), maxWb, 1 + rand(3), 1);
  const lfd = kernel.listen();
  expect(r.addListener(lfd)).toBe(0);
  const pending: Peer[] = [];
  const conns: Tracked[] = [];
  const byHandle = new Map<number, Tracked>();

  const dispatch = (ret: number) => {
    mem.sync();
    const first = mem.i32[ret >>> 2] >>> 2;
    const end = first + mem.i32[(ret >>> 2) + 1] * EVENT_WORDS;
    for (let p = first; p < end; p += EVENT_WORDS) {
      const kind = mem.i32[p] & 0xff;
      const handle = mem.i32[p + 1] >>> 0;
      if (kind === EventKind.Opened) {
        const i = pending.findIndex((peer) => peer.fd === (handle & FD_MASK));
        const [peer] = pending.splice(i, 1);
        const t: Tracked = { peer, handle, accepted: [], sent: [], delivered: [], closes: [], cut: false };
        conns.push(t);
        byHandle.set(handle, t);
      } else if (kind === EventKind.Data) {
        const ptr = mem.i32[p + 4] >>> 0;
        byHandle.get(handle)!.delivered.push(...mem.u8.subarray(ptr, ptr + mem.i32[p + 5]));
      } else if (kind === EventKind.Closed) {
        byHandle.get(handle)!.closes.push(mem.i32[p + 2]);
      }
    }
  };
  /** One poll; returns how many events it produced. */
  const poll = (): number => {
    let events = 0;
    const count = (ret: number) => {
      mem.sync();
      events += mem.i32[(ret >>> 2) + 1];
      dispatch(ret);
    };
    count(r.runOnce(0));
    while (r.backlog() > 0) count(r.runOnce(0));
    return events;
  };
  const live = () => conns.filter((t) => t.closes.length === 0);
  const pick = <T>(list: T[]): T | undefined => (list.length === 0 ? undefined : list[rand(list.length)]);

  for (let step = 0; step < 400; step++) {
    const t = pick(live());
    switch (rand(10)) {
      case 0:
        pending.push(kernel.connectPeer(lfd, rand(64)));
        break;
      case 1:
      case 2:
        if (t && !t.cut) {
          const data = bytes(rand, 1 + rand(80));
          t.peer.send(data);
          t.sent.push(...data);
        }
        break;
      case 3:
      case 4: {
        if (!t) break;
        // Mostly small writes (they coalesce), some above the 4 KiB chunk
        // size (their own chunks: gathering writes).
        const data = bytes(rand, rand(5) === 0 ? 4097 + rand(4000) : 1 + rand(300));
        const ptr = mem.alloc(1, data.length);
        mem.u8.set(data, ptr);
        const rc = r.write(t.handle, ptr, data.length);
        if (rc === data.length) {
          t.accepted.push(...data);
        } else {
          // The reactor closed the connection (overflow, or the peer's
          // reset), possibly after the kernel took the first part of `data`.
          expect([-105, -32, -104]).toContain(rc);
          t.accepted.push(...data);
          t.cut = true;
          dispatch(r.takeEvents());
        }
        break;
      }
      case 5:
        t?.peer.drain(rand(200));
        break;
      case 6:
        if (t && rand(4) === 0) {
          t.cut = true;
          if (rand(2) === 0) t.peer.end();
          else t.peer.reset();
        }
        break;
      case 7:
        if (t && rand(6) === 0) {
          t.cut = true;
          expect(r.close(t.handle, 0)).toBe(0);
          dispatch(r.takeEvents());
        }
        break;
      default:
        poll();
    }
  }
  // Let every peer read everything, poll until nothing more happens (reads
  // of readBufferSize, a few per poll, may take many polls), shut down.
  for (const c of conns) c.peer.drain(1 << 20);
  for (let i = 0; i < 100_000 && poll() > 0; i++);
  r.shutdown();
  dispatch(r.takeEvents());
  return { conns, kernel };
}

describe('fault injection: random peers and writes against the reactor', () => {
  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('seed %i: bytes never reorder, every connection closes once, nothing leaks', (seed) => {
    const { conns, kernel } = run(seed);
    for (const t of conns) {
      expect(t.closes).toHaveLength(1);
      const received = t.peer.received();
      // What the peer got is exactly what the reactor accepted, in order:
      // all of it for a connection that lived to the shutdown, a prefix otherwise.
      expect({ conn: conns.indexOf(t), got: Array.from(received) }).toEqual({ conn: conns.indexOf(t), got: t.accepted.slice(0, received.length) });
      if (t.closes[0] === 0 && !t.cut) expect(received.length).toBe(t.accepted.length);
      // What the reactor delivered is what the peer sent, in order.
      expect({ conn: conns.indexOf(t), delivered: t.delivered }).toEqual({ conn: conns.indexOf(t), delivered: t.sent.slice(0, t.delivered.length) });
      if (!t.cut && t.closes[0] === 0) expect(t.delivered.length).toBe(t.sent.length);
    }
    expect(kernel.openFds()).toEqual([]);
  });
});
