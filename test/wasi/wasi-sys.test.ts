// The reactor's WASI build (sys = assembly/sys/wasi.ts, plus the net
// exports) at the core level, over an in-memory WASI host: the reactor's
// own scenarios (accept, read, zero-copy echo, queued writes, overflow,
// backlog, shutdown) and what is particular to WASI (the epoll emulation's
// poll list, lingering closes, dials, addresses, error mapping, time-outs).
import { describe, expect, it } from 'vitest';
import { EventLayout, ListLayout } from '../../host/generated/abi.js';
import { readReactorStats } from '../../host/api/stats.js';
import { ErrorCode, type Peer } from './fake-wasi.js';
import { type Ev, Kind, WasiGuest, fdOf } from './guest.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** An accepted connection: its handle and the test's peer. */
function accept(g: WasiGuest, port: number): { conn: number; peer: Peer } {
  const peer = g.wasi.connect(port);
  const opened = g.runOnce().find((e) => e.kind === Kind.Opened);
  expect(opened).toBeDefined();
  return { conn: opened!.conn, peer };
}

/** Only the resources that outlive every connection: the network and the
 *  always-ready clock of time-out 0 (and listeners the test kept). */
function expectNothingLeft(g: WasiGuest, extra: Record<string, number> = {}) {
  const live = g.wasi.live();
  const { network = 0, pollable = 0, ...rest } = live;
  expect(network).toBeLessThanOrEqual(1);
  expect(pollable).toBeLessThanOrEqual(1 + (extra.pollable ?? 0));
  const { pollable: _p, ...extraRest } = extra;
  expect(rest).toEqual(extraRest);
}

describe('WASI sys: the reactor over an in-memory WASI host', () => {
  it('listens by address, accepts, reads into the batch, echoes zero-copy, reports the end of stream, closes on end', () => {
    const g = new WasiGuest();
    const { fd, port } = g.listener();
    expect(g.address(fd)).toBe(`127.0.0.1:${port}`);
    const { conn, peer } = accept(g, port);
    expect(g.engine('conn-count')).toBe(1);
    expect(g.address(fdOf(conn), true)).toMatch(/^127\.0\.0\.1:\d+$/);
    peer.send(bytes('hello'));
    const ret = g.engine('run-once', 0);
    const [data] = g.events(ret);
    expect([data.kind, text(data.data)]).toEqual([Kind.Data, 'hello']);
    const dv = new DataView(g.memory.buffer);
    const rec = dv.getUint32(ret + ListLayout.ptr, true);
    expect(g.engine('write', conn, dv.getUint32(rec + EventLayout.data + ListLayout.ptr, true), 5)).toBe(5);
    expect(text(peer.received())).toBe('hello');
    peer.end();
    expect(g.runOnce()).toEqual([{ kind: Kind.Ended, conn, status: 0, detail: 0, data: new Uint8Array() }]);
    expect(g.engine('end', conn)).toBe(0);
    expect(g.events(g.engine('take-events'))).toEqual([{ kind: Kind.Closed, conn, status: 1, detail: 0, data: new Uint8Array() }]);
    expect(g.engine('conn-count')).toBe(0);
    expect(g.engine('write', conn, 0, 1)).toBe(-9);
    expectNothingLeft(g, { socket: 1, pollable: 1 });
    // The same counters as on Linux, through the WASI streams.
    expect(readReactorStats(g.memory.buffer, g.engine('stats'))).toMatchObject({
      connections: 0, accepted: 1, closed: [{ status: 1, count: 1 }], bytesRead: 5, bytesWritten: 5, queued: 0,
    });
  });

  it('reads the bytes before an end of stream and reports the end once', () => {
    const g = new WasiGuest(1024, 0, 2);
    const { conn, peer } = accept(g, g.listener().port);
    peer.send(new Uint8Array(10_000).fill(7));
    peer.end();
    let got = 0;
    const ends: Ev[] = [];
    for (let i = 0; i < 20; i++) {
      for (const e of g.runOnce()) {
        if (e.kind === Kind.Data) got += e.data.length;
        if (e.kind === Kind.Ended) ends.push(e);
      }
    }
    expect(got).toBe(10_000);
    expect(ends).toEqual([{ kind: Kind.Ended, conn, status: 0, detail: 0, data: new Uint8Array() }]);
  });

  it('polls only armed pollables: inputs and listeners block, a full output is asked without blocking', () => {
    const g = new WasiGuest();
    const { port } = g.listener();
    const a = accept(g, port);
    accept(g, port);
    g.runOnce(0);
    const last = g.wasi.polls.at(-1)!;
    expect(last.filter((d) => d.startsWith('input#'))).toHaveLength(2);
    expect(last.filter((d) => d.startsWith('socket#'))).toHaveLength(1);
    expect(last.some((d) => d.startsWith('output#'))).toBe(false);

    a.peer.conn.capacity = 3;
    expect(g.write(a.conn, bytes('abcdef'))).toBe(6);
    g.wasi.readyAsked.length = 0;
    g.runOnce(-1); // the output is not ready: a short clock bounds the wait
    expect(g.wasi.readyAsked.filter((d) => d.startsWith('output#'))).toHaveLength(1);
    expect(g.wasi.polls.at(-1)!.some((d) => d.startsWith('output#'))).toBe(false);
    expect(g.wasi.polls.at(-1)).toContain('clock');

    a.peer.drain(100);
    g.runOnce(0);
    expect(text(a.peer.received())).toBe('abcdef');
    g.wasi.readyAsked.length = 0;
    g.runOnce(0);
    expect(g.wasi.readyAsked.filter((d) => d.startsWith('output#'))).toEqual([]);
  });

  it('queues only what the stream refused, flushes in order when it is writable again, reports drained', () => {
    const g = new WasiGuest();
    const { conn, peer } = accept(g, g.listener().port);
    peer.conn.capacity = 3;
    expect(g.write(conn, bytes('abcdef'))).toBe(6);
    expect(g.write(conn, bytes('ghi'))).toBe(3);
    expect(g.engine('buffered-amount', conn)).toBe(6);
    peer.drain(4);
    g.runOnce();
    expect(text(peer.received())).toBe('abcdefg');
    peer.drain(100);
    const evs = g.runOnce();
    expect(text(peer.received())).toBe('abcdefghi');
    expect(evs).toEqual([{ kind: Kind.Drained, conn, status: 0, detail: 0, data: new Uint8Array() }]);
    expect(g.engine('buffered-amount', conn)).toBe(0);
  });

  it('closes a connection whose queue would exceed maxWriteBufferSize, dropping its resources at once', () => {
    const g = new WasiGuest(4096, 1000);
    const { conn, peer } = accept(g, g.listener().port);
    peer.conn.capacity = 500;
    expect(g.write(conn, new Uint8Array(1400))).toBe(1400);
    expect(g.write(conn, new Uint8Array(200))).toBe(-105);
    expect(g.takeEvents()).toEqual([{ kind: Kind.Closed, conn, status: 2, detail: 0, data: new Uint8Array() }]);
    expectNothingLeft(g, { socket: 1, pollable: 1 });
  });

  it('reports a reset peer as ECONNRESET from the read', () => {
    const g = new WasiGuest();
    const { conn, peer } = accept(g, g.listener().port);
    peer.reset();
    expect(g.runOnce()).toEqual([{ kind: Kind.Closed, conn, status: -104, detail: 1, data: new Uint8Array() }]);
    expect(g.wasi.live().error ?? 0).toBe(0);
  });

  it('end: the FIN waits for the runtime\'s background write; the connection reads on until the peer\'s end; nothing cut, no reset', () => {
    const g = new WasiGuest();
    const { conn, peer } = accept(g, g.listener().port);
    expect(g.write(conn, bytes('last words'))).toBe(10);
    peer.conn.busy = true; // the runtime still sends it
    expect(g.engine('end', conn)).toBe(0);
    expect(g.takeEvents()).toEqual([]);
    g.runOnce(0);
    expect(peer.conn.guestEnded).toBe(false);
    peer.finishBackgroundWrite();
    peer.send(bytes('more'));
    expect(g.runOnce(0).map((e) => [e.kind, text(e.data)])).toEqual([[Kind.Data, 'more']]);
    expect(peer.conn.guestEnded).toBe(true);
    peer.end();
    expect(g.runOnce(0).map((e) => [e.kind, e.status])).toEqual([[Kind.Ended, 0], [Kind.Closed, 0]]);
    expect(peer.conn.cutByShutdown).toBe(false);
    expect(peer.conn.resetByGuest).toBe(false);
    expectNothingLeft(g, { socket: 1, pollable: 1 });
    expect(text(peer.received())).toBe('last words');
  });

  it('closing a lingering connection (the host\'s linger time-out) reads and drops what arrived: no reset', () => {
    const g = new WasiGuest();
    const { conn, peer } = accept(g, g.listener().port);
    expect(g.engine('end', conn)).toBe(0);
    expect(peer.conn.guestEnded).toBe(true); // nothing was being written: the FIN at once
    peer.send(bytes('unread'));
    expect(g.engine('close', conn, 0)).toBe(0);
    expect(g.takeEvents().map((e) => [e.kind, e.status])).toEqual([[Kind.Closed, 0]]);
    expect(peer.conn.resetByGuest).toBe(false);
    expectNothingLeft(g, { socket: 1, pollable: 1 });
  });

  it('a lingering socket is dropped after 30 s even if its write never finishes', () => {
    const g = new WasiGuest();
    const { conn, peer } = accept(g, g.listener().port);
    peer.conn.busy = true;
    expect(g.engine('close', conn, 0)).toBe(0);
    const t0 = g.wasi.now;
    while (g.wasi.live().output) g.runOnce(-1);
    expect(g.wasi.now - t0).toBeGreaterThanOrEqual(30_000_000_000n);
    expectNothingLeft(g, { socket: 1, pollable: 1 });
  });

  it('dials by address: opened once connected, bytes flow both ways', () => {
    const g = new WasiGuest();
    const accepted = g.wasi.remote(9000);
    const fd = g.dial('127.0.0.1:9000');
    expect(fd).toBeGreaterThan(0);
    expect(g.address(fd, true)).toBe(-107);
    const conn = g.engine('add-conn', fd, 1);
    expect(conn).toBeGreaterThan(0);
    expect(g.runOnce()).toEqual([{ kind: Kind.Opened, conn, status: 0, detail: 0, data: new Uint8Array() }]);
    expect(g.address(fd, true)).toBe('127.0.0.1:9000');
    expect(g.write(conn, bytes('ping'))).toBe(4);
    expect(text(accepted[0].received())).toBe('ping');
    accepted[0].send(bytes('pong'));
    expect(text(g.runOnce()[0].data)).toBe('pong');
  });

  it('a refused dial closes with ECONNREFUSED from connect', () => {
    const g = new WasiGuest();
    const conn = g.engine('add-conn', g.dial('127.0.0.1:9001'), 1);
    expect(g.runOnce()).toEqual([{ kind: Kind.Closed, conn, status: -111, detail: 3, data: new Uint8Array() }]);
    expectNothingLeft(g);
  });

  it('maps listen failures to errnos and leaks nothing', () => {
    const g = new WasiGuest();
    const { port } = g.listener();
    expect(g.listen(`127.0.0.1:${port}`)).toBe(-98);
    for (const bad of ['127.0.0.1', '127.0.0.1:65536', '1.2.3.4:-1', '[::1:80', '[1::2::3]:80', 'a:b:c', '']) {
      expect(g.listen(bad), bad).toBe(-22);
    }
    expect(g.listen('nowhere.invalid:80')).toBe(-2);
    g.wasi.denyTcp = true;
    expect(g.listen('127.0.0.1:0')).toBe(-13);
    expectNothingLeft(g, { socket: 1 });
  });

  it('parses and prints IPv6, ":port" and names', () => {
    const g = new WasiGuest();
    g.wasi.hosts.set('localhost', [[127, 0, 0, 1]]);
    g.wasi.hosts.set('v6host', [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]]);
    const cases: Array<[string, RegExp]> = [
      ['[::1]:0', /^\[::1\]:\d+$/],
      ['[2001:db8::1]:0', /^\[2001:db8::1\]:\d+$/],
      ['[1:0:0:2:0:0:0:3]:0', /^\[1:0:0:2::3\]:\d+$/],
      ['[fe80:0:0:0:0:0:0:0]:0', /^\[fe80::\]:\d+$/],
      [':0', /^0\.0\.0\.0:\d+$/],
      ['localhost:0', /^127\.0\.0\.1:\d+$/],
      ['v6host:0', /^\[2001:db8::1\]:\d+$/],
      ['10.1.2.3:0', /^10\.1\.2\.3:\d+$/],
    ];
    for (const [address, shown] of cases) {
      const fd = g.listen(address);
      expect(fd, address).toBeGreaterThan(0);
      expect(g.address(fd), address).toMatch(shown);
    }
    expect(g.listen('[::1]:4242') > 0 && g.address(g.listen('127.0.0.1:4243'))).toBe('127.0.0.1:4243');
  });

  it('waits for its time-out on a virtual clock, and not at all with time-out 0', () => {
    const g = new WasiGuest();
    g.listener();
    const t0 = g.wasi.now;
    expect(g.runOnce(0)).toEqual([]);
    expect(g.wasi.now).toBe(t0);
    expect(g.runOnce(50)).toEqual([]);
    expect(g.wasi.now - t0).toBe(50_000_000n);
  });

  it('stops a batch when the data area is full and reports a backlog', () => {
    const g = new WasiGuest(65536, 0, 1);
    const { port } = g.listener();
    const peers = Array.from({ length: 6 }, () => accept(g, port));
    for (const { peer } of peers) peer.send(new Uint8Array(65536).fill(1));
    expect(g.runOnce().filter((e) => e.kind === Kind.Data)).toHaveLength(4);
    expect(g.engine('backlog')).toBe(2);
    expect(g.runOnce().filter((e) => e.kind === Kind.Data)).toHaveLength(2);
    expect(g.engine('backlog')).toBe(0);
  });

  /**
   * `count` accepted connections whose peers keep them readable: each byte
   * the reactor reads is answered by another. Returns a function that runs
   * one wake-up (a run-once that polls, then the backlog it left) and the
   * data events each connection has had so far.
   */
  function busyConnections(g: WasiGuest, count: number) {
    const { port } = g.listener();
    const peers = new Map<number, Peer>();
    while (peers.size < count) {
      const peer = g.wasi.connect(port);
      const opened = g.runOnce().filter((e) => e.kind === Kind.Opened);
      expect(opened).toHaveLength(1);
      peers.set(opened[0].conn, peer);
    }
    for (const peer of peers.values()) peer.send([1]);
    const served = new Map<number, number>([...peers.keys()].map((c) => [c, 0]));
    /** One wake-up; returns the connections served, in order. */
    const wakeUp = () => {
      const order: number[] = [];
      do {
        for (const e of g.runOnce()) {
          if (e.kind !== Kind.Data) continue;
          order.push(e.conn);
          served.set(e.conn, served.get(e.conn)! + 1);
          peers.get(e.conn)!.send([1]);
        }
      } while (g.engine('backlog') > 0);
      return order;
    };
    return { served, wakeUp };
  }

  it('serves every busy connection when the runtime answers a poll with only some of the ready pollables', () => {
    const g = new WasiGuest();
    g.wasi.pollCap = 127; // as wasmtime 49
    const { served, wakeUp } = busyConnections(g, 300);
    const polls = g.wasi.polls.length;
    wakeUp();
    // One wake-up serves all 300: the sweep polls them in parts of 100,
    // each with an always-ready clock, so no answer is cut short.
    expect([...served.values()].filter((n) => n === 0)).toEqual([]);
    const parts = g.wasi.polls.slice(polls);
    expect(parts.map((p) => p.length)).toEqual([101, 101, 101, 2]);
    expect(parts.every((p) => p.at(-1) === 'clock')).toBe(true);
  });

  it('rotates: more ready descriptors than one wait reports are all served within two wake-ups', () => {
    const g = new WasiGuest();
    const { served, wakeUp } = busyConnections(g, 1100);
    const polls = g.wasi.polls.length;
    wakeUp();
    const afterFirst = new Map(served);
    const second = g.wasi.polls.length;
    wakeUp();
    expect([...served].filter(([, n]) => n === 0)).toEqual([]);
    // A wait reports at most 1024 (MAX_READY): the first sweep stopped
    // after ten parts (the listener and 999 connections), and the second
    // list started where it stopped, with the 101 left behind.
    expect(second - polls).toBe(10);
    expect([...afterFirst.values()].filter((n) => n === 0)).toHaveLength(101);
    const sweptFirst = new Set(g.wasi.polls.slice(polls, second).flat());
    expect(sweptFirst.has(g.wasi.polls[second][0])).toBe(false);
  });

  it('moves where the reports of a wait start, so the runtime\'s fixed order favours no connection', () => {
    const g = new WasiGuest();
    const { wakeUp } = busyConnections(g, 5);
    const firsts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const order = wakeUp();
      expect(new Set(order).size).toBe(5);
      firsts.push(order[0]);
    }
    expect(new Set(firsts).size).toBe(5);
  });

  it('pauses a listener when accepting fails (EMFILE) instead of spinning, resumes on request', () => {
    const g = new WasiGuest();
    const { fd, port } = g.listener();
    g.wasi.acceptError = ErrorCode.newSocketLimit;
    g.wasi.connect(port);
    expect(g.runOnce()).toEqual([{ kind: Kind.ListenerPaused, conn: 0, status: -24, detail: fd, data: new Uint8Array() }]);
    const polls = g.wasi.polls.length;
    expect(g.runOnce(0)).toEqual([]);
    expect(g.wasi.polls.at(-1)!.some((d) => d.startsWith('socket#'))).toBe(false);
    expect(g.wasi.polls.length).toBe(polls + 1);
    g.wasi.acceptError = undefined;
    expect(g.engine('resume-listener', fd)).toBe(0);
    expect(g.runOnce().map((e) => e.kind)).toEqual([Kind.Opened]);
  });

  it('echoing small messages on 50 connections does not grow memory', () => {
    const g = new WasiGuest();
    const { port } = g.listener();
    const conns = Array.from({ length: 50 }, () => accept(g, port));
    const round = () => {
      for (const { peer } of conns) peer.send(new Uint8Array(64).fill(1));
      for (const e of g.runOnce(-1)) if (e.kind === Kind.Data) expect(g.write(e.conn, e.data)).toBe(64);
    };
    for (let i = 0; i < 20; i++) round();
    const bytes = g.memory.buffer.byteLength;
    for (let i = 0; i < 500; i++) round();
    expect(g.memory.buffer.byteLength).toBe(bytes);
    expect(conns.every(({ peer }) => peer.received().length === 520 * 64)).toBe(true);
  });

  it('shutdown closes listeners, connections (one waiting for its FIN among them) and lingering sockets', () => {
    const g = new WasiGuest();
    const { port } = g.listener();
    const conns = [accept(g, port), accept(g, port), accept(g, port)];
    conns[0].peer.conn.busy = true;
    expect(g.engine('end', conns[0].conn)).toBe(0); // its FIN waits for the write
    conns[1].peer.conn.busy = true;
    expect(g.engine('close', conns[1].conn, 0)).toBe(0); // lingers, closed
    g.engine('shutdown');
    expect(g.takeEvents().map((e) => [e.kind, e.status])).toEqual([[Kind.Closed, 0], [Kind.Closed, 0], [Kind.Closed, 0]]);
    expectNothingLeft(g);
  });
});
