// The built core module (dist/wasm/reactor.core.wasm) driven through its
// lowered canonical-ABI imports by a tiny in-memory, level-triggered fake
// kernel. Checks the reactor's behaviour end to end at the ABI level.
import { beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ConnOrigin, FD_MASK } from '../../host/generated/abi.js';
import { readReactorStats } from '../../host/api/stats.js';
import { readEvents, type ReactorEvent } from './reactor-events.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const coreBytes = readFileSync(join(root, 'dist', 'wasm', 'reactor.core.wasm'));
const E = 'nbio:engine/engine@0.1.0#';
const IN = 1, OUT = 4, RDHUP = 0x2000;

interface Sock { kind: 'sock' | 'listener'; inbox: number[]; eof: boolean; sent: number[]; sendCap: number;
  pending: number[]; acceptErr: number; interest: number; token: number; registered: boolean; }
type Ev = ReactorEvent;

class Kernel {
  fds = new Map<number, Sock>();
  nextFd = 10; epfd = 3; calls: string[] = [];
  mem!: WebAssembly.Memory; realloc!: (a: number, b: number, c: number, d: number) => number;
  sock(kind: Sock['kind'] = 'sock'): number {
    const fd = this.lowestFree();
    this.fds.set(fd, { kind, inbox: [], eof: false, sent: [], sendCap: 1 << 30, pending: [], acceptErr: 0,
      interest: 0, token: 0, registered: false });
    return fd;
  }
  lowestFree() { let fd = 4; while (this.fds.has(fd)) fd++; return fd; }
  dv() { return new DataView(this.mem.buffer); }
  ready(s: Sock): number {
    let ev = 0;
    if (s.kind === 'listener') { if (s.pending.length || s.acceptErr) ev |= IN; }
    else {
      if (s.inbox.length || s.eof) ev |= IN;
      if (s.eof) ev |= RDHUP;
      if (s.sendCap > 0) ev |= OUT;
    }
    return ev & s.interest;
  }
  imports() {
    const k = this;
    return {
      'nbio:engine/sys@0.1.0': {
        'epoll-create': () => k.epfd,
        'epoll-ctl': (_epfd: number, op: number, fd: number, events: number, token: number) => {
          k.calls.push(`ctl ${op} ${fd} ${events.toString(16)}`);
          const s = k.fds.get(fd); if (!s) return -9;
          if (op === 1) { if (s.registered) return -17; s.registered = true; }
          else if (!s.registered) return -2;
          s.interest = events; s.token = token >>> 0; return 0;
        },
        'epoll-wait': (_epfd: number, max: number, _timeout: number, ret: number) => {
          k.calls.push('wait');
          const p = k.realloc(0, 0, 4, max * 8);
          let n = 0;
          for (const s of k.fds.values()) {
            if (!s.registered || n >= max) continue;
            const ev = k.ready(s); if (!ev) continue;
            k.dv().setUint32(p + n * 8, s.token, true); k.dv().setUint32(p + n * 8 + 4, ev, true); n++;
          }
          const dv = k.dv(); dv.setUint8(ret, 0); dv.setUint32(ret + 4, p, true); dv.setUint32(ret + 8, n, true);
        },
        accept: (fd: number) => {
          const l = k.fds.get(fd)!;
          if (l.acceptErr) return -l.acceptErr;
          if (!l.pending.length) return -11;
          l.pending.shift(); return k.sock();
        },
        read: (fd: number, maxLen: number, ret: number) => {
          const s = k.fds.get(fd)!;
          if (!s.inbox.length && !s.eof) { k.dv().setUint8(ret, 1); k.dv().setInt32(ret + 4, -11, true); return; }
          const p = k.realloc(0, 0, 1, maxLen);
          const n = Math.min(maxLen, s.inbox.length);
          new Uint8Array(k.mem.buffer).set(s.inbox.splice(0, n), p);
          const dv = k.dv(); dv.setUint8(ret, 0); dv.setUint32(ret + 4, p, true); dv.setUint32(ret + 8, n, true);
        },
        write: (fd: number, ptr: number, len: number) => k.take(fd, ptr, len),
        writev: (fd: number, iov: number, count: number) => {
          let total = 0;
          for (let i = 0; i < count; i++) {
            const dv = k.dv(); const p = dv.getUint32(iov + 8 * i, true), l = dv.getUint32(iov + 8 * i + 4, true);
            const n = k.take(fd, p, l);
            if (n < 0) return total ? total : n;
            total += n; if (n < l) break;
          }
          return total;
        },
        close: (fd: number) => { k.calls.push(`close ${fd}`); return k.fds.delete(fd) ? 0 : -9; },
        'socket-error': () => 0,
        'set-no-delay': () => 0,
        shutdown: (fd: number, how: number) => { k.calls.push(`shutdown ${fd} ${how}`); return 0; },
        'recv-from': (_fd: number, _max: number, ret: number) => { k.dv().setUint8(ret, 1); k.dv().setInt32(ret + 4, -95, true); },
        'send-to': () => -95,
        'send-file': () => -95,
      },
    };
  }
  take(fd: number, ptr: number, len: number) {
    const s = this.fds.get(fd)!;
    if (s.sendCap === 0) return -11;
    const n = Math.min(len, s.sendCap); s.sendCap -= n;
    for (const b of new Uint8Array(this.mem.buffer, ptr, n)) s.sent.push(b);
    return n;
  }
}

let k: Kernel; let x: any;
function boot(rbs = 4096, maxWb = 0, reads = 3) {
  k = new Kernel();
  const inst = new WebAssembly.Instance(new WebAssembly.Module(coreBytes), k.imports());
  x = inst.exports; k.mem = x.memory; k.realloc = x.cabi_realloc;
  expect(x[E + 'init'](rbs, maxWb, reads, 1, 0xf000_0000, 0)).toBe(k.epfd);
}
function events(retArea: number): Ev[] {
  return readEvents(k.mem.buffer, retArea);
}
const runOnce = () => events(x[E + 'run-once'](0));
/** Copies bytes in through cabi_realloc (as a host lowering list<u8> does) and writes. */
function write(conn: number, bytes: Uint8Array): number {
  const p = x.cabi_realloc(0, 0, 1, bytes.length);
  new Uint8Array(k.mem.buffer).set(bytes, p);
  return x[E + 'write'](conn, p, bytes.length);
}
function listen() { const l = k.sock('listener'); expect(x[E + 'add-listener'](l)).toBe(0); return l; }
function connect(l: number) {
  k.fds.get(l)!.pending.push(1);
  const evs = runOnce();
  const open = evs.find((e) => e.kind === 0)!;
  expect(open.detail).toBe(l + 1);
  return open.conn;
}
const fdOf = (h: number) => h & FD_MASK;

beforeEach(() => boot());

describe('reactor core over a fake kernel', () => {
  it('accepts, reads data into the batch, echoes zero-copy, reports EOF, closes once ended', () => {
    const l = listen();
    const c = connect(l);
    expect(x[E + 'conn-count']()).toBe(1);
    const s = k.fds.get(fdOf(c))!;
    s.inbox.push(...Buffer.from('hello'));
    const dv = () => new DataView(k.mem.buffer);
    const ret = x[E + 'run-once'](0);
    const evs = events(ret);
    expect(evs.map((e) => e.kind)).toEqual([1]);
    expect(Buffer.from(evs[0].data).toString()).toBe('hello');
    // zero-copy echo: write straight from the batch data area
    const ev0 = dv().getUint32(ret, true);
    const dataPtr = dv().getUint32(ev0 + 16, true);
    expect(x[E + 'write'](c, dataPtr, 5)).toBe(5);
    expect(Buffer.from(s.sent).toString()).toBe('hello');
    s.eof = true;
    expect(runOnce()).toEqual([{ kind: 7, conn: c, status: 0, detail: 0, data: new Uint8Array() }]);
    expect(runOnce()).toEqual([]); // no read interest any more: the end is not reported again
    expect(x[E + 'write'](c, dataPtr, 5)).toBe(5); // still writable
    expect(x[E + 'end'](c)).toBe(0);
    expect(events(x[E + 'take-events']())).toEqual([{ kind: 2, conn: c, status: 1, detail: 0, data: new Uint8Array() }]);
    expect(x[E + 'conn-count']()).toBe(0);
    expect(x[E + 'write'](c, dataPtr, 5)).toBe(-9);
    expect(x[E + 'close'](c, 0)).toBe(-9);
  });

  it('reads tail data before reporting the end on RDHUP (no tail loss)', () => {
    boot(1024, 0, 2);
    const c = connect(listen());
    const s = k.fds.get(fdOf(c))!;
    s.inbox.push(...new Uint8Array(10_000).fill(7)); s.eof = true;
    let got = 0; let ended = false;
    for (let i = 0; i < 20 && !ended; i++) for (const e of runOnce()) {
      expect(ended).toBe(false);
      if (e.kind === 1) got += e.data.length; if (e.kind === 7) ended = true;
    }
    expect(got).toBe(10_000);
    expect(ended).toBe(true);
  });

  it('flushes what is queued after the peer ended, then closes (status 1) on end', () => {
    const c = connect(listen());
    const s = k.fds.get(fdOf(c))!;
    s.sendCap = 2;
    expect(write(c, Buffer.from('abcdef'))).toBe(6);
    s.eof = true;
    expect(runOnce().map((e) => e.kind)).toEqual([7]);
    expect(x[E + 'end'](c)).toBe(0);
    expect(write(c, Buffer.from('x'))).toBe(-9); // ended by this side too
    s.sendCap = 100;
    expect(runOnce()).toEqual([{ kind: 2, conn: c, status: 1, detail: 0, data: new Uint8Array() }]);
    expect(Buffer.from(s.sent).toString()).toBe('abcdef');
  });

  it('close-write flushes, shuts this side, reads on, and closes when the peer ends (status 0)', () => {
    const c = connect(listen());
    const fd = fdOf(c); const s = k.fds.get(fd)!;
    s.sendCap = 2;
    expect(write(c, Buffer.from('abcd'))).toBe(4);
    expect(x[E + 'close-write'](c)).toBe(0);
    expect(write(c, Buffer.from('x'))).toBe(-9);
    expect(k.calls.filter((l) => l.startsWith('shutdown'))).toEqual([]); // not before the queue is sent
    s.sendCap = 100; s.inbox.push(...Buffer.from('more'));
    const evs = runOnce();
    expect(evs.map((e) => e.kind)).toEqual([4, 1]); // drained, then data still read
    expect(k.calls.filter((l) => l.startsWith('shutdown'))).toEqual([`shutdown ${fd} 1`]);
    s.eof = true;
    expect(runOnce().map((e) => [e.kind, e.status])).toEqual([[7, 0], [2, 0]]);
  });

  it('an acceptor reports accepted descriptors instead of serving them', () => {
    const l = k.sock('listener');
    expect(x[E + 'add-acceptor'](l)).toBe(0);
    k.fds.get(l)!.pending.push(1, 1);
    const evs = runOnce();
    expect(evs.map((e) => [e.kind, e.status])).toEqual([[8, l], [8, l]]);
    expect(x[E + 'conn-count']()).toBe(0);
    const h = x[E + 'add-conn'](evs[0].detail, 0);
    expect(h & 0xfffff).toBe(evs[0].detail);
    expect(events(x[E + 'take-events']()).map((e) => [e.kind, e.conn, e.detail])).toEqual([[0, h, 0]]);
    expect(x[E + 'remove-listener'](l)).toBe(0);
    expect(k.fds.has(l)).toBe(false);
    expect(x[E + 'remove-listener'](l)).toBe(-9);
  });

  it('add-conn counts each socket as its origin says; an unknown origin is refused (EINVAL, descriptor closed)', () => {
    for (const origin of [ConnOrigin.Added, ConnOrigin.Dialing, ConnOrigin.Dialed, ConnOrigin.Dialed, ConnOrigin.Accepted]) {
      expect(x[E + 'add-conn'](k.sock(), origin)).toBeGreaterThan(0);
    }
    const stray = k.sock();
    expect(x[E + 'add-conn'](stray, 4)).toBe(-22);
    expect(k.fds.has(stray)).toBe(false);
    const stats = readReactorStats(k.mem.buffer, x[E + 'stats']());
    expect(stats).toMatchObject({ connections: 5, accepted: 1, dialed: 3, added: 1 });
  });

  it('queues only what the kernel refused, arms OUT once, flushes in order, disarms', () => {
    const c = connect(listen());
    const fd = fdOf(c); const s = k.fds.get(fd)!;
    s.sendCap = 3;
    expect(write(c, Buffer.from('abcdef'))).toBe(6);
    expect(x[E + 'buffered-amount'](c)).toBe(3);
    expect(write(c, Buffer.from('ghi'))).toBe(3); // behind the queue, no write-through
    expect(x[E + 'buffered-amount'](c)).toBe(6);
    expect(k.calls.filter((l) => l.startsWith(`ctl 3 ${fd}`))).toEqual([`ctl 3 ${fd} 2005`]);
    s.sendCap = 4; runOnce();
    expect(Buffer.from(s.sent).toString()).toBe('abcdefg');
    expect(x[E + 'buffered-amount'](c)).toBe(2);
    s.sendCap = 100; runOnce();
    expect(Buffer.from(s.sent).toString()).toBe('abcdefghi');
    expect(x[E + 'buffered-amount'](c)).toBe(0);
    expect(k.calls.filter((l) => l.startsWith(`ctl 3 ${fd}`))).toEqual([`ctl 3 ${fd} 2005`, `ctl 3 ${fd} 2001`]);
  });

  it('adopts a large cabi_realloc block as a queued chunk; bytes arrive intact; memory flat', () => {
    const c = connect(listen());
    const s = k.fds.get(fdOf(c))!;
    const big = new Uint8Array(300_000).map((_, i) => (i * 31) & 255);
    const round = () => {
      s.sent = []; s.sendCap = 1000;
      expect(write(c, big)).toBe(big.length);
      expect(x[E + 'buffered-amount'](c)).toBe(big.length - 1000);
      for (let i = 0; i < 10 && x[E + 'buffered-amount'](c); i++) { s.sendCap = 64_000; runOnce(); }
      expect(x[E + 'buffered-amount'](c)).toBe(0);
      expect(Buffer.from(s.sent).equals(Buffer.from(big))).toBe(true);
    };
    for (let i = 0; i < 5; i++) round();
    const bytes = k.mem.buffer.byteLength;
    for (let i = 0; i < 50; i++) round();
    expect(k.mem.buffer.byteLength).toBe(bytes);
  });

  it('maxWriteBufferSize applies to what must be queued, not to what the kernel takes', () => {
    boot(4096, 1000, 3);
    const c = connect(listen());
    const s = k.fds.get(fdOf(c))!;
    expect(write(c, new Uint8Array(100_000))).toBe(100_000); // taken whole: fine
    s.sendCap = 500;
    expect(write(c, new Uint8Array(1400))).toBe(1400); // 900 queued
    expect(write(c, new Uint8Array(200))).toBe(-105);
    expect(events(x[E + 'take-events']())).toEqual([{ kind: 2, conn: c, status: 2, detail: 0, data: new Uint8Array() }]);
  });

  it('overflow close is reported with status 2 by the next run-once', () => {
    boot(4096, 10, 3);
    const c = connect(listen());
    k.fds.get(fdOf(c))!.sendCap = 0;
    expect(write(c, new Uint8Array(11))).toBe(-105);
    expect(runOnce()).toEqual([{ kind: 2, conn: c, status: 2, detail: 0, data: new Uint8Array() }]);
  });

  it('stops when the batch data area is full and reports a backlog', () => {
    boot(65536, 0, 1); // data area = 256 KiB = 4 reads of 64 KiB
    const l = listen();
    const conns: number[] = [];
    for (let i = 0; i < 6; i++) conns.push(connect(l));
    for (const c of conns) k.fds.get(fdOf(c))!.inbox.push(...new Uint8Array(65536).fill(fdOf(c)));
    const first = runOnce();
    expect(first.filter((e) => e.kind === 1).length).toBe(4);
    expect(x[E + 'backlog']()).toBe(2);
    const second = runOnce();
    expect(second.filter((e) => e.kind === 1).length).toBe(2);
    expect(x[E + 'backlog']()).toBe(0);
    const seen = new Set([...first, ...second].filter((e) => e.kind === 1).map((e) => e.conn));
    expect(seen.size).toBe(6);
  });

  it('processes at most 64 readiness reports per batch, the rest as backlog served before the next wait', () => {
    const l = listen();
    const conns: number[] = [];
    for (let i = 0; i < 100; i++) conns.push(connect(l));
    for (const c of conns) k.fds.get(fdOf(c))!.inbox.push(1, 2, 3);
    const first = runOnce();
    expect(first.filter((e) => e.kind === 1).length).toBe(64);
    expect(x[E + 'backlog']()).toBe(36);
    // The first 64 are readable again at once: the next batch still serves
    // the 36 left over, from the backlog, without waiting (polling) again.
    for (const c of conns) k.fds.get(fdOf(c))!.inbox.push(4);
    k.calls.length = 0;
    const second = runOnce();
    expect(k.calls.filter((c) => c === 'wait')).toEqual([]);
    expect(second.filter((e) => e.kind === 1).length).toBe(36);
    expect(x[E + 'backlog']()).toBe(0);
    expect(new Set([...first, ...second].filter((e) => e.kind === 1).map((e) => e.conn)).size).toBe(100);
  });

  it('pauses a listener on EMFILE instead of spinning, resumes on request', () => {
    const l = listen();
    k.fds.get(l)!.acceptErr = 24;
    const evs = runOnce();
    expect(evs).toEqual([{ kind: 3, conn: 0, status: -24, detail: l, data: new Uint8Array() }]);
    expect(runOnce()).toEqual([]);
    k.fds.get(l)!.acceptErr = 0;
    expect(x[E + 'resume-listener'](l)).toBe(0);
    connect(l);
  });

  it('keeps the returned list intact while appending, then compacts; shutdown closes all', () => {
    const l = listen();
    const conns = [connect(l), connect(l), connect(l)];
    for (const c of conns) k.fds.get(fdOf(c))!.inbox.push(1, 2, 3);
    const ret = x[E + 'run-once'](0);
    const before = events(ret);
    expect(x[E + 'close'](conns[0], 16)).toBe(0);
    expect(events(ret)).toEqual(before); // same area still readable and unchanged
    x[E + 'shutdown']();
    const after = events(x[E + 'take-events']());
    expect(after.map((e) => [e.kind, e.conn, e.status])).toEqual([
      [2, conns[0], 16], [2, conns[1], 0], [2, conns[2], 0]]);
    expect(x[E + 'conn-count']()).toBe(0);
    expect(k.fds.size).toBe(0);
  });

  it('echo of small messages does not grow memory', () => {
    const l = listen();
    const conns = Array.from({ length: 50 }, () => connect(l));
    const loop = () => {
      for (const c of conns) k.fds.get(fdOf(c))!.inbox.push(...new Uint8Array(64).fill(1));
      const ret = x[E + 'run-once'](0);
      const dv = new DataView(k.mem.buffer);
      const p = dv.getUint32(ret, true), n = dv.getUint32(ret + 4, true);
      for (let i = 0; i < n; i++) {
        const e = p + 24 * i;
        expect(x[E + 'write'](dv.getUint32(e + 4, true), dv.getUint32(e + 16, true), dv.getUint32(e + 20, true))).toBe(64);
      }
    };
    for (let i = 0; i < 20; i++) loop();
    const bytes = k.mem.buffer.byteLength;
    for (let i = 0; i < 500; i++) loop();
    expect(k.mem.buffer.byteLength).toBe(bytes);
  });

  it('grows the event array for 15,000 closes at shutdown', () => {
    const l = listen();
    for (let i = 0; i < 15_000; i++) expect(x[E + 'add-conn'](k.sock(), 0)).toBeGreaterThan(0);
    expect(x[E + 'conn-count']()).toBe(15_000);
    runOnce();
    x[E + 'shutdown']();
    const evs = events(x[E + 'take-events']());
    expect(evs.length).toBe(15_000);
    expect(evs.every((e) => e.kind === 2 && e.status === 0)).toBe(true);
    void l;
  });
});
