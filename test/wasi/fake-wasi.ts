// An in-memory WASI 0.2 host at the core level: the wasi:sockets, wasi:io
// and wasi:clocks functions the WASI build of the reactor imports, in
// canonical-ABI form (i32/i64 parameters, results through return areas,
// lists through the guest's cabi_realloc). Test-only: it lets the guest's
// sys implementation (assembly/sys/wasi.ts) run deterministically, with
// peers the test controls, and checks the rules a real runtime enforces
// (a write beyond check-write traps, a resource dropped before its
// children traps, an unknown handle traps), and records what a real
// network would show of the guest's closes: its FIN (`tcp-socket.shutdown`),
// a shutdown that would cut a write still in progress, a drop of a socket
// with input unread (a reset).
//
// Time is virtual: `now` only moves when a poll has nothing ready but a
// clock, which then fires at once. A poll that could never return throws.

export { Conn, Peer } from './fake-wasi-peer.js';
import { Conn, Peer } from './fake-wasi-peer.js';
import { type Addr, addrFromArgs, key, storeAddr } from './fake-wasi-address.js';

interface Sock {
  state: 'new' | 'bind-started' | 'bound' | 'listen-started' | 'listening' | 'connecting' | 'connected' | 'closed';
  family: 0 | 1;
  local?: Addr;
  remote?: Addr;
  /** Listener: connections waiting for accept. */
  queue: Conn[];
  /** Connecting: the outcome once known (0: connected, else an error-code). */
  outcome?: number;
  conn?: Conn;
}

type Res =
  | { kind: 'network' }
  | { kind: 'socket'; sock: Sock }
  | { kind: 'input'; conn: Conn; socket: number }
  | { kind: 'output'; conn: Conn; socket: number }
  | { kind: 'pollable'; target: number; at?: bigint }
  | { kind: 'error' }
  | { kind: 'resolver'; addrs: number[][]; blocked: boolean };

// error-code values (wasi:sockets/network)
export const ErrorCode = {
  accessDenied: 1, invalidArgument: 3, notInProgress: 7, wouldBlock: 8, invalidState: 9,
  newSocketLimit: 10, addressInUse: 12, connectionRefused: 14, nameUnresolvable: 18,
} as const;

export class FakeWasi {
  /** Virtual monotonic time, ns. */
  now = 0n;
  /** create-tcp-socket answers access-denied (a runtime without TCP). */
  denyTcp = false;
  /** Names the resolver knows. */
  readonly hosts = new Map<string, number[][]>();
  /** Every poll: the pollables' descriptions (`input#h`, `socket#h`, `clock`). */
  readonly polls: string[][] = [];
  /** Every `pollable.ready` question, described the same way. */
  readonly readyAsked: string[] = [];
  /** Capacity of new connections (bytes the guest may write before waiting). */
  capacity = 1 << 20;
  /** When set, accept answers this error-code (e.g. new-socket-limit) while connections wait. */
  acceptError: number | undefined;
  /** When set, a poll answers at most this many ready pollables, the first
   *  in list order (wasmtime 49 answers at most 127 per call, in an order of
   *  its own that does not change from call to call). */
  pollCap: number | undefined;

  readonly #res = new Map<number, Res>();
  #next = 1;
  #nextPort = 40000;
  readonly #listening = new Map<string, Sock>();
  /** Outside listeners the guest can dial: port -> accepted peers. */
  readonly #remotes = new Map<number, Peer[]>();
  #mem!: WebAssembly.Memory;
  #realloc!: (a: number, b: number, c: number, d: number) => number;

  /** Binds the guest instance (its memory and cabi_realloc). */
  attach(instance: WebAssembly.Instance): void {
    this.#mem = instance.exports.memory as WebAssembly.Memory;
    this.#realloc = instance.exports.cabi_realloc as never;
  }

  // ---- test side ----

  /** A peer connects to the guest listener on `port`; waits in its accept queue. */
  connect(port: number, family: 0 | 1 = 0): Peer {
    const l = [...this.#listening.values()].find((s) => s.local!.port === port && s.family === family);
    if (!l) throw new Error(`fake wasi: nothing listens on port ${port}`);
    const conn = new Conn(this.capacity);
    l.queue.push(conn);
    return new Peer(conn);
  }

  /** An outside listener on 127.0.0.1:`port` that the guest can dial; returns its accepted peers. */
  remote(port: number): Peer[] {
    const accepted: Peer[] = [];
    this.#remotes.set(port, accepted);
    return accepted;
  }

  /** Live resources by kind (the network and always-ready clocks included). */
  live(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.#res.values()) out[r.kind] = (out[r.kind] ?? 0) + 1;
    return out;
  }

  // ---- helpers ----

  #dv(): DataView {
    return new DataView(this.#mem.buffer);
  }
  #get<K extends Res['kind']>(h: number, kind: K): Extract<Res, { kind: K }> {
    const r = this.#res.get(h);
    if (!r || r.kind !== kind) throw new Error(`fake wasi: handle ${h} is not a live ${kind}`);
    return r as Extract<Res, { kind: K }>;
  }
  #add(r: Res): number {
    this.#res.set(this.#next, r);
    return this.#next++;
  }
  #drop(h: number, kind: Res['kind']): void {
    this.#get(h, kind);
    for (const [child, r] of this.#res) {
      if ((r.kind === 'pollable' && r.target === h) || ((r.kind === 'input' || r.kind === 'output') && r.socket === h)) {
        throw new Error(`fake wasi: ${kind} ${h} dropped before its child ${r.kind} ${child}`);
      }
    }
    this.#res.delete(h);
  }
  #unit(ret: number, code?: number): void {
    const dv = this.#dv();
    dv.setUint8(ret, code === undefined ? 0 : 1);
    if (code !== undefined) dv.setUint8(ret + 1, code);
  }
  #handle(ret: number, h: number | undefined, code?: number): void {
    const dv = this.#dv();
    dv.setUint8(ret, h === undefined ? 1 : 0);
    if (h === undefined) dv.setUint8(ret + 4, code!);
    else dv.setInt32(ret + 4, h, true);
  }
  /** Writes a stream-error (closed, or last-operation-failed with a new error) at `at`. */
  #streamError(ret: number, at: number, failed: boolean): void {
    const dv = this.#dv();
    dv.setUint8(ret, 1);
    dv.setUint8(ret + at, failed ? 0 : 1);
    if (failed) dv.setInt32(ret + at + 4, this.#add({ kind: 'error' }), true);
  }
  #describe(p: number): string {
    const r = this.#get(p, 'pollable');
    return r.at !== undefined ? 'clock' : `${this.#res.get(r.target)!.kind}#${r.target}`;
  }
  #ready(p: number): boolean {
    const r = this.#get(p, 'pollable');
    if (r.at !== undefined) return this.now >= r.at;
    const t = this.#res.get(r.target)!;
    switch (t.kind) {
      case 'input': return t.conn.toGuest.length > 0 || t.conn.eof || t.conn.reset;
      case 'output': return !t.conn.busy && (t.conn.capacity > 0 || t.conn.reset);
      case 'socket':
        if (t.sock.state === 'listening') return t.sock.queue.length > 0;
        if (t.sock.state === 'connecting') return t.sock.outcome !== undefined;
        return true;
      default: return true;
    }
  }
  #connectTo(sock: Sock): number {
    const target = sock.remote!;
    const accepted = target.family === 0 && target.ip.join('.') === '127.0.0.1' ? this.#remotes.get(target.port) : undefined;
    if (!accepted) return ErrorCode.connectionRefused;
    sock.conn = new Conn(this.capacity);
    accepted.push(new Peer(sock.conn));
    return 0;
  }

  // ---- the imports ----

  imports(): WebAssembly.Imports {
    const V = '@0.2.12';
    const bind = (s: number, _net: number, family: number, ...rest: number[]) => {
      const ret = rest[11];
      const sock = this.#get(s, 'socket').sock;
      const addr = addrFromArgs(family, rest.slice(0, 11));
      if (sock.state !== 'new') return this.#unit(ret, ErrorCode.invalidState);
      if (addr.port !== 0 && this.#listening.has(key(addr))) return this.#unit(ret, ErrorCode.addressInUse);
      sock.local = { ...addr, port: addr.port || this.#nextPort++ };
      sock.state = 'bind-started';
      this.#unit(ret);
    };
    const connect = (s: number, _net: number, family: number, ...rest: number[]) => {
      const ret = rest[11];
      const sock = this.#get(s, 'socket').sock;
      if (sock.state !== 'new' && sock.state !== 'bound') return this.#unit(ret, ErrorCode.invalidState);
      sock.remote = addrFromArgs(family, rest.slice(0, 11));
      sock.local = { family: sock.family, ip: sock.family === 0 ? [127, 0, 0, 1] : [0, 0, 0, 0, 0, 0, 0, 1], port: this.#nextPort++ };
      sock.state = 'connecting';
      sock.outcome = this.#connectTo(sock);
      this.#unit(ret);
    };
    return {
      [`wasi:io/poll${V}`]: {
        poll: (list: number, len: number, ret: number) => {
          if (len === 0) throw new Error('fake wasi: poll of an empty list traps');
          const handles = Array.from({ length: len }, (_, i) => this.#dv().getInt32(list + 4 * i, true));
          this.polls.push(handles.map((h) => this.#describe(h)));
          let ready = handles.flatMap((h, i) => (this.#ready(h) ? [i] : []));
          if (ready.length === 0) {
            const clocks = handles.map((h) => this.#get(h, 'pollable').at).filter((a): a is bigint => a !== undefined);
            if (clocks.length === 0) throw new Error('fake wasi: poll would block forever');
            this.now = clocks.reduce((a, b) => (a < b ? a : b));
            ready = handles.flatMap((h, i) => (this.#ready(h) ? [i] : []));
          }
          if (this.pollCap !== undefined) ready = ready.slice(0, this.pollCap);
          const p = this.#realloc(0, 0, 4, ready.length * 4);
          const dv = this.#dv();
          ready.forEach((ix, i) => dv.setUint32(p + 4 * i, ix, true));
          dv.setUint32(ret, p, true);
          dv.setUint32(ret + 4, ready.length, true);
        },
        '[method]pollable.ready': (p: number) => {
          this.readyAsked.push(this.#describe(p));
          return this.#ready(p) ? 1 : 0;
        },
        '[method]pollable.block': (p: number) => {
          if (!this.#ready(p)) throw new Error(`fake wasi: block on ${this.#describe(p)} would block forever`);
        },
        '[resource-drop]pollable': (p: number) => this.#drop(p, 'pollable'),
      },
      [`wasi:io/error${V}`]: { '[resource-drop]error': (e: number) => this.#drop(e, 'error') },
      [`wasi:io/streams${V}`]: {
        '[method]input-stream.read': (s: number, len: bigint, ret: number) => {
          const c = this.#get(s, 'input').conn;
          if (c.reset) return this.#streamError(ret, 4, true);
          if (c.toGuest.length === 0 && c.eof) return this.#streamError(ret, 4, false);
          const bytes = c.toGuest.splice(0, Number(len));
          const p = this.#realloc(0, 0, 1, bytes.length);
          new Uint8Array(this.#mem.buffer).set(bytes, p);
          const dv = this.#dv();
          dv.setUint8(ret, 0);
          dv.setUint32(ret + 4, p, true);
          dv.setUint32(ret + 8, bytes.length, true);
        },
        '[method]input-stream.subscribe': (s: number) => (this.#get(s, 'input'), this.#add({ kind: 'pollable', target: s })),
        '[resource-drop]input-stream': (s: number) => this.#drop(s, 'input'),
        '[method]output-stream.check-write': (s: number, ret: number) => {
          const c = this.#get(s, 'output').conn;
          if (c.reset) return this.#streamError(ret, 8, true);
          if (c.guestEnded) return this.#streamError(ret, 8, false);
          const dv = this.#dv();
          dv.setUint8(ret, 0);
          dv.setBigUint64(ret + 8, BigInt(c.busy ? 0 : c.capacity), true);
        },
        '[method]output-stream.write': (s: number, ptr: number, len: number, ret: number) => {
          const c = this.#get(s, 'output').conn;
          if (c.reset) return this.#streamError(ret, 4, true);
          if (c.guestEnded) return this.#streamError(ret, 4, false);
          if (c.busy || len > c.capacity) throw new Error(`fake wasi: write of ${len} beyond check-write traps`);
          c.fromGuest.push(...new Uint8Array(this.#mem.buffer, ptr, len));
          c.capacity -= len;
          this.#unit(ret);
        },
        '[method]output-stream.flush': (s: number, ret: number) => {
          this.#get(s, 'output');
          this.#unit(ret);
        },
        '[method]output-stream.subscribe': (s: number) => (this.#get(s, 'output'), this.#add({ kind: 'pollable', target: s })),
        '[resource-drop]output-stream': (s: number) => this.#drop(s, 'output'),
      },
      [`wasi:clocks/monotonic-clock${V}`]: {
        now: () => this.now,
        'subscribe-duration': (ns: bigint) => this.#add({ kind: 'pollable', target: 0, at: this.now + BigInt.asUintN(64, ns) }),
      },
      [`wasi:sockets/instance-network${V}`]: { 'instance-network': () => this.#add({ kind: 'network' }) },
      [`wasi:sockets/tcp-create-socket${V}`]: {
        'create-tcp-socket': (family: number, ret: number) => {
          if (this.denyTcp) return this.#handle(ret, undefined, ErrorCode.accessDenied);
          this.#handle(ret, this.#add({ kind: 'socket', sock: { state: 'new', family: family as 0 | 1, queue: [] } }));
        },
      },
      [`wasi:sockets/tcp${V}`]: {
        '[method]tcp-socket.start-bind': bind,
        '[method]tcp-socket.finish-bind': (s: number, ret: number) => {
          const sock = this.#get(s, 'socket').sock;
          if (sock.state !== 'bind-started') return this.#unit(ret, ErrorCode.notInProgress);
          sock.state = 'bound';
          this.#unit(ret);
        },
        '[method]tcp-socket.start-listen': (s: number, ret: number) => {
          const sock = this.#get(s, 'socket').sock;
          if (sock.state !== 'bound') return this.#unit(ret, ErrorCode.invalidState);
          sock.state = 'listen-started';
          this.#unit(ret);
        },
        '[method]tcp-socket.finish-listen': (s: number, ret: number) => {
          const sock = this.#get(s, 'socket').sock;
          if (sock.state !== 'listen-started') return this.#unit(ret, ErrorCode.notInProgress);
          sock.state = 'listening';
          this.#listening.set(key(sock.local!), sock);
          this.#unit(ret);
        },
        '[method]tcp-socket.set-listen-backlog-size': (s: number, _n: bigint, ret: number) => {
          this.#get(s, 'socket');
          this.#unit(ret);
        },
        '[method]tcp-socket.accept': (s: number, ret: number) => {
          const sock = this.#get(s, 'socket').sock;
          if (sock.state !== 'listening') return this.#handle(ret, undefined, ErrorCode.invalidState);
          if (sock.queue.length && this.acceptError !== undefined) return this.#handle(ret, undefined, this.acceptError);
          const conn = sock.queue.shift();
          if (!conn) return this.#handle(ret, undefined, ErrorCode.wouldBlock);
          const h = this.#add({ kind: 'socket', sock: { state: 'connected', family: sock.family, queue: [], conn,
            local: sock.local, remote: { family: sock.family, ip: sock.local!.ip, port: this.#nextPort++ } } });
          const dv = this.#dv();
          dv.setUint8(ret, 0);
          dv.setInt32(ret + 4, h, true);
          dv.setInt32(ret + 8, this.#add({ kind: 'input', conn, socket: h }), true);
          dv.setInt32(ret + 12, this.#add({ kind: 'output', conn, socket: h }), true);
        },
        '[method]tcp-socket.start-connect': connect,
        '[method]tcp-socket.finish-connect': (s: number, ret: number) => {
          const sock = this.#get(s, 'socket').sock;
          if (sock.state !== 'connecting') return this.#handle(ret, undefined, ErrorCode.notInProgress);
          if (sock.outcome === undefined) return this.#handle(ret, undefined, ErrorCode.wouldBlock);
          if (sock.outcome !== 0) {
            sock.state = 'closed';
            return this.#handle(ret, undefined, sock.outcome);
          }
          sock.state = 'connected';
          const dv = this.#dv();
          dv.setUint8(ret, 0);
          dv.setInt32(ret + 4, this.#add({ kind: 'input', conn: sock.conn!, socket: s }), true);
          dv.setInt32(ret + 8, this.#add({ kind: 'output', conn: sock.conn!, socket: s }), true);
        },
        '[method]tcp-socket.local-address': (s: number, ret: number) => {
          const sock = this.#get(s, 'socket').sock;
          if (!sock.local || sock.state === 'new') return this.#handle(ret, undefined, ErrorCode.invalidState);
          storeAddr(this.#dv(), ret, sock.local);
        },
        '[method]tcp-socket.remote-address': (s: number, ret: number) => {
          const sock = this.#get(s, 'socket').sock;
          if (sock.state !== 'connected') return this.#handle(ret, undefined, ErrorCode.invalidState);
          storeAddr(this.#dv(), ret, sock.remote!);
        },
        '[method]tcp-socket.subscribe': (s: number) => (this.#get(s, 'socket'), this.#add({ kind: 'pollable', target: s })),
        '[method]tcp-socket.shutdown': (s: number, how: number, ret: number) => {
          const sock = this.#get(s, 'socket').sock;
          if (sock.state !== 'connected') return this.#unit(ret, ErrorCode.invalidState);
          const c = sock.conn!;
          if (how !== 0 && !c.guestEnded) { // send, or both
            if (c.busy) c.cutByShutdown = true;
            c.guestEnded = true;
          }
          this.#unit(ret);
        },
        '[resource-drop]tcp-socket': (s: number) => {
          const sock = this.#get(s, 'socket').sock;
          this.#drop(s, 'socket');
          const c = sock.conn;
          if (c !== undefined && c.toGuest.length > 0 && !c.reset) c.resetByGuest = true;
          if (sock.state === 'listening') this.#listening.delete(key(sock.local!));
        },
      },
      [`wasi:sockets/ip-name-lookup${V}`]: {
        'resolve-addresses': (_net: number, ptr: number, len: number, ret: number) => {
          const name = new TextDecoder().decode(new Uint8Array(this.#mem.buffer, ptr, len));
          const addrs = this.hosts.get(name);
          if (!addrs) return this.#handle(ret, undefined, ErrorCode.nameUnresolvable);
          this.#handle(ret, this.#add({ kind: 'resolver', addrs: [...addrs], blocked: true }));
        },
        '[method]resolve-address-stream.resolve-next-address': (s: number, ret: number) => {
          const r = this.#get(s, 'resolver');
          const dv = this.#dv();
          if (r.blocked) {
            // The first answer is not there yet: the guest must wait on the pollable.
            r.blocked = false;
            dv.setUint8(ret, 1);
            dv.setUint8(ret + 2, ErrorCode.wouldBlock);
            return;
          }
          const ip = r.addrs.shift();
          dv.setUint8(ret, 0);
          dv.setUint8(ret + 2, ip ? 1 : 0);
          if (!ip) return;
          dv.setUint8(ret + 4, ip.length === 4 ? 0 : 1);
          if (ip.length === 4) ip.forEach((b, i) => dv.setUint8(ret + 6 + i, b));
          else ip.forEach((g, i) => dv.setUint16(ret + 6 + 2 * i, g, true));
        },
        '[method]resolve-address-stream.subscribe': (s: number) => (this.#get(s, 'resolver'), this.#add({ kind: 'pollable', target: s })),
        '[resource-drop]resolve-address-stream': (s: number) => this.#drop(s, 'resolver'),
      },
    };
  }
}
