// Unit tests of assembly/conn-table.ts, compiled into a harness module.
import { beforeAll, describe, expect, it } from 'vitest';
import { FD_BITS } from '../../host/generated/abi.js';
import { compileHarness } from './guest-compile.js';

type U = number;
interface CT {
  LISTENER: WebAssembly.Global; CONNECTING: WebAssembly.Global; OPEN: WebAssembly.Global;
  ensure(fd: U): U; capacity(): U; open(fd: U, state: U): U; release(fd: U): void;
  handle(fd: U): U; lookup(h: U): U; slot(fd: U): U; state(fd: U): U; live(): U; memPages(): U;
  queueBytes(fd: U, n: U): void; queued(fd: U): U; flagsRoundTrip(fd: U, flags: U): U;
}

let ct: CT;
let OPEN: number, LISTENER: number, CONNECTING: number;
beforeAll(async () => {
  ct = (await compileHarness('conn-table-harness.ts')).exports as unknown as CT;
  OPEN = ct.OPEN.value; LISTENER = ct.LISTENER.value; CONNECTING = ct.CONNECTING.value;
});

const fdOf = (h: number) => (h >>> 0) & ((1 << FD_BITS) - 1);
const genOf = (h: number) => (h >>> 0) >>> FD_BITS;

describe('guest connection table', () => {
  it('grows on demand, keeps slots across growth, caps fds at 2^20', () => {
    expect(ct.capacity()).toBe(0);
    expect(ct.ensure(3)).toBe(1);
    const first = ct.capacity();
    expect(first).toBeGreaterThan(3);
    const h3 = ct.open(3, OPEN);
    expect(ct.ensure(50_000)).toBe(1);
    expect(ct.capacity()).toBeGreaterThan(50_000);
    expect(ct.capacity()).toBeLessThanOrEqual(1 << 20);
    expect(ct.lookup(h3)).toBe(ct.slot(3)); // survived the move
    expect(ct.state(3)).toBe(OPEN);
    expect(ct.ensure((1 << 20) - 1)).toBe(1);
    expect(ct.capacity()).toBe(1 << 20);
    expect(ct.ensure(1 << 20)).toBe(0);
    expect(ct.ensure(-1)).toBe(0);
    ct.release(3);
  });

  it('handles are gen<<20|fd, never 0, positive as s32', () => {
    const h = ct.open(0, OPEN);
    expect(h).not.toBe(0);
    expect(h).toBeGreaterThan(0); // as a signed i32 from the export
    expect(fdOf(h)).toBe(0);
    expect(genOf(h)).toBeGreaterThanOrEqual(1);
    expect(ct.handle(0)).toBe(h);
    ct.release(0);
  });

  it('bumps the generation on release; stale handles never match, fd reuse gets a new handle', () => {
    const h1 = ct.open(7, OPEN);
    expect(ct.lookup(h1)).toBe(ct.slot(7));
    expect(ct.live()).toBe(1);
    ct.release(7);
    expect(ct.state(7)).toBe(0);
    expect(ct.lookup(h1)).toBe(0);
    expect(ct.live()).toBe(0);
    const h2 = ct.open(7, CONNECTING); // the kernel reused fd 7
    expect(fdOf(h2)).toBe(7);
    expect(genOf(h2)).toBe(genOf(h1) + 1);
    expect(ct.lookup(h2)).toBe(ct.slot(7));
    expect(ct.lookup(h1)).toBe(0);
    ct.release(7);
    expect(ct.lookup(h2)).toBe(0);
    ct.release(7); // releasing a free slot is a no-op (no double bump)
    const h3 = ct.open(7, OPEN);
    expect(genOf(h3)).toBe(genOf(h2) + 1);
    ct.release(7);
  });

  it('generations wrap within 1..2047 and never produce handle 0', () => {
    let prev = ct.open(9, OPEN);
    for (let i = 0; i < 5000; i++) {
      ct.release(9);
      const h = ct.open(9, OPEN);
      expect(h).toBeGreaterThan(0);
      expect(genOf(h)).toBeGreaterThanOrEqual(1);
      expect(genOf(h)).toBeLessThanOrEqual(2047);
      expect(h).not.toBe(prev);
      expect(ct.lookup(prev)).toBe(0);
      prev = h;
    }
    ct.release(9);
  });

  it('rejects handles of free slots, of out-of-range fds and of other generations', () => {
    expect(ct.lookup((1 << FD_BITS) | 12)).toBe(0);      // never opened
    expect(ct.lookup(((1 << FD_BITS) | 0xfffff) >>> 0)).toBe(0); // fd in range, free
    const h = ct.open(12, OPEN);
    expect(ct.lookup((h + (1 << FD_BITS)) >>> 0)).toBe(0); // future generation
    expect(ct.lookup(fdOf(h))).toBe(0);                    // generation 0
    ct.release(12);
  });

  it('counts connections but not listeners', () => {
    const base = ct.live();
    ct.open(20, LISTENER);
    ct.open(21, OPEN);
    ct.open(22, CONNECTING);
    expect(ct.live()).toBe(base + 2);
    ct.release(20);
    expect(ct.live()).toBe(base + 2);
    ct.release(21); ct.release(22);
    expect(ct.live()).toBe(base);
  });

  it('release frees the write queue; memory stays flat over many open/queue/release cycles', () => {
    const cycle = (i: number) => {
      const fd = 100 + (i % 50);
      ct.open(fd, OPEN);
      ct.queueBytes(fd, 1 + ((i * 7919) % 200_000));
      expect(ct.queued(fd)).toBeGreaterThan(0);
      ct.release(fd);
      expect(ct.queued(fd)).toBe(0);
    };
    for (let i = 0; i < 200; i++) cycle(i);
    const pages = ct.memPages();
    for (let i = 0; i < 5000; i++) cycle(i);
    expect(ct.memPages()).toBe(pages);
  });

  it('gives every slot flag a bit of its own: a listener\'s flag can never be read as a connection\'s', () => {
    const flags = Object.entries(ct).filter(([name]) => /^(SHARED|LISTENER|CONN)_/.test(name))
      .map(([name, global]) => [name, (global as WebAssembly.Global).value as number] as const);
    expect(flags).toHaveLength(12);
    for (const [name, bit] of flags) expect(bit & (bit - 1), `${name} is one bit`).toBe(0);
    const seen = new Map<number, string>();
    for (const [name, bit] of flags) {
      expect(seen.get(bit), `${name} shares its bit`).toBeUndefined();
      seen.set(bit, name);
    }
  });

  it('keeps a slot\'s flags and its state apart', () => {
    expect(ct.ensure(12)).toBe(1);
    ct.open(12, OPEN);
    const all = (1 << 12) - 1;
    expect(ct.flagsRoundTrip(12, all)).toBe((all << 8) | OPEN);
    expect(ct.lookup(ct.handle(12))).toBe(ct.slot(12));
    ct.release(12);
    expect(ct.flagsRoundTrip(12, 0)).toBe(0);
  });
});
