// Fault injection for the WASI build: the reactor with sys = assembly/sys/
// wasi.ts over the in-memory WASI host, under a seeded random mix of peers
// connecting (and the guest dialing out), sending (also while the host
// ends), reading slowly, ending (also before the host's queue is sent)
// and resetting, the runtime finishing writes in the background late,
// and the host writing, ending, closing, timing out lingering connections
// and polling. Whatever the interleaving: bytes never reorder, every
// connection closes exactly once, an ended connection delivers what its
// peer sent until the peer's end, no FIN cuts a write in progress, no
// graceful close resets, and no WASI resource leaks.
import { describe, expect, it } from 'vitest';
import { type Peer } from './fake-wasi.js';
import { Kind, WasiGuest } from './guest.js';

/** A seeded xorshift32 stream, so a failing seed replays: rand(n) is in [0, n). */
function seeded(seed: number): (n: number) => number {
  let x = (Math.imul(seed, 0x9e3779b1) ^ 0xdeadbeef) >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

interface Conn {
  peer: Peer;
  handle: number;
  /** Bytes the reactor took for writing (write returned their length), in order. */
  accepted: number[];
  sent: number[];
  delivered: number[];
  closes: number[];
  /** Delivery may stop early: the peer reset or ended, or the host closed it (or timed out its linger). */
  cut: boolean;
  /** The host ended it: no more writes; it reads on until the peer's end. */
  ended: boolean;
  /** The peer ended or reset its side: it sends nothing more. */
  peerDone: boolean;
  /** The host closed it (`close`): what was queued is dropped, and so may be unread input (a reset). */
  closed: boolean;
}

function run(seed: number): { conns: Conn[]; g: WasiGuest } {
  const rand = seeded(seed);
  const g = new WasiGuest(1 + rand(64), [0, 256, 4096][rand(3)], 1 + rand(3));
  const { port } = g.listener();
  /** Peers connecting to the guest's listener, in accept order. */
  const waiting: Peer[] = [];
  /** The outside listener the guest dials (port 9000; 9001 refuses). */
  const remotes = g.wasi.remote(9000);
  /** Dials in progress: handle -> the remote's peer. */
  const dialing = new Map<number, Peer>();
  /** Refused dials: their one close. */
  const refused = new Map<number, number[]>();
  const conns: Conn[] = [];
  const byHandle = new Map<number, Conn>();

  const dispatch = (events: ReturnType<WasiGuest['runOnce']>) => {
    for (const e of events) {
      if (e.kind === Kind.Opened) {
        const peer = e.detail === 0 ? dialing.get(e.conn)! : waiting.shift()!;
        dialing.delete(e.conn);
        const c: Conn = {
          peer, handle: e.conn, accepted: [], sent: [], delivered: [], closes: [], cut: false, ended: false, peerDone: false, closed: false,
        };
        conns.push(c);
        byHandle.set(e.conn, c);
      } else if (e.kind === Kind.Data) {
        byHandle.get(e.conn)!.delivered.push(...e.data);
      } else if (e.kind === Kind.Closed) {
        if (dialing.delete(e.conn)) continue; // closed (shutdown) before it connected
        (byHandle.get(e.conn)?.closes ?? refused.get(e.conn)!).push(e.status);
      }
    }
  };
  const poll = (): number => {
    let n = 0;
    do {
      const evs = g.runOnce(0);
      n += evs.length;
      dispatch(evs);
    } while (g.engine('backlog') > 0);
    return n;
  };
  const live = () => conns.filter((c) => c.closes.length === 0);
  const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[rand(xs.length)] : undefined);
  const randomBytes = (n: number) => Array.from({ length: n }, () => rand(256));

  /** What can happen next, with its weight; each acts on a random live connection. */
  const actions: Array<[number, (c: Conn | undefined) => void]> = [
    [1, () => waiting.push(g.wasi.connect(port))],
    [1, () => { // the guest dials out, now and then to nowhere
      const to = rand(5) === 0 ? 9001 : 9000;
      const handle = g.engine('add-conn', g.dial(`127.0.0.1:${to}`), 1);
      expect(handle).toBeGreaterThan(0);
      if (to === 9000) dialing.set(handle, remotes.at(-1)!);
      else refused.set(handle, []);
    }],
    [2, (c) => { // the peer sends (also after the host ended: it reads on)
      if (!c || c.cut || c.peerDone) return;
      const data = randomBytes(1 + rand(80));
      c.peer.send(data);
      c.sent.push(...data);
    }],
    [2, (c) => { // the host writes: mostly small (coalescing), some above the 4 KiB chunk size
      if (!c || c.ended) return;
      const data = randomBytes(rand(5) === 0 ? 4097 + rand(4000) : 1 + rand(300));
      const rc = g.write(c.handle, Uint8Array.from(data));
      c.accepted.push(...data);
      if (rc === data.length) return;
      // Closed by this write (overflow, a reset peer), maybe after the
      // runtime took its first part.
      expect([-105, -104, -32]).toContain(rc);
      c.cut = true;
      dispatch(g.takeEvents());
    }],
    [1, (c) => c?.peer.drain(rand(200))],
    [1, (c) => { // the runtime is slow to send a write, or finishes it
      if (c && rand(3) === 0) c.peer.conn.busy = true;
      else c?.peer.finishBackgroundWrite();
    }],
    [1, (c) => { // the peer goes away: ends (maybe while the host's queue is still sent), or resets
      if (!c || c.peerDone || rand(4) !== 0) return;
      c.peerDone = true;
      if (rand(2) === 0) c.peer.end();
      else {
        c.peer.reset();
        c.cut = true;
      }
    }],
    [1, (c) => { // the host ends or closes
      if (!c || c.ended || rand(6) !== 0) return;
      c.ended = true;
      if (rand(2) === 0) expect(g.engine('end', c.handle)).toBe(0);
      else {
        c.cut = c.closed = true;
        expect(g.engine('close', c.handle, 0)).toBe(0);
      }
      dispatch(g.takeEvents());
    }],
    [1, (c) => { // the linger time-out of an ended connection whose queue is sent: the host closes it (what was unread is dropped)
      if (!c?.ended || c.closed || g.engine('buffered-amount', c.handle) !== 0 || rand(2) !== 0) return;
      c.cut = true;
      expect(g.engine('close', c.handle, 0)).toBe(0);
      dispatch(g.takeEvents());
    }],
    [3, () => poll()],
  ];
  const total = actions.reduce((sum, [w]) => sum + w, 0);
  for (let step = 0; step < 400; step++) {
    let r = rand(total);
    const [, act] = actions.find(([w]) => (r -= w) < 0)!;
    act(pick(live()));
  }
  // Peers read everything and the runtime finishes its writes; poll until
  // quiet (lingering sockets settle too); the peers of ended connections
  // answer the FIN with theirs; then shut down.
  for (const c of conns) {
    c.peer.drain(1 << 24);
    c.peer.finishBackgroundWrite();
  }
  for (let i = 0; i < 100_000 && poll() > 0; i++);
  for (const c of live()) {
    if (!c.ended || c.peerDone) continue;
    expect(c.peer.conn.guestEnded).toBe(true);
    c.peer.end();
    c.peerDone = true;
  }
  for (let i = 0; i < 100_000 && poll() > 0; i++);
  g.engine('shutdown');
  dispatch(g.takeEvents());
  expect(dialing.size).toBe(0);
  for (const closes of refused.values()) expect(closes).toEqual([-111]);
  return { conns, g };
}

describe('WASI fault injection: random peers, writes and late background writes against the reactor', () => {
  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('seed %i: bytes never reorder, every connection closes once, nothing leaks', (seed) => {
    const { conns, g } = run(seed);
    for (const [i, c] of conns.entries()) {
      expect(c.closes, `conn ${i}`).toHaveLength(1);
      const received = Array.from(c.peer.received());
      expect({ i, received }).toEqual({ i, received: c.accepted.slice(0, received.length) });
      if (!c.cut && c.closes[0] === 0) expect(received.length, `conn ${i}`).toBe(c.accepted.length);
      expect({ i, delivered: c.delivered }).toEqual({ i, delivered: c.sent.slice(0, c.delivered.length) });
      if (!c.cut && c.closes[0] >= 0) expect(c.delivered.length, `conn ${i}`).toBe(c.sent.length);
      expect(c.peer.conn.cutByShutdown, `conn ${i}: its FIN cut a write`).toBe(false);
      const graceful = c.closes[0] === 0 || c.closes[0] === 1;
      if (graceful && !c.closed && !c.peer.conn.reset) expect(c.peer.conn.resetByGuest, `conn ${i}: closed with input unread`).toBe(false);
    }
    // Left: the network and the always-ready clock of time-out 0.
    const { network = 0, pollable = 0, ...rest } = g.wasi.live();
    expect({ network: network <= 1, pollable: pollable <= 1, rest }).toEqual({ network: true, pollable: true, rest: {} });
  });
});
