// The portable path proof: the reactor component, run through `jco
// transpile` glue with an in-memory `sys` (FakeKernel), behaves exactly as
// the fast path (the core module with lowered sys functions) driven by the
// same fake. Both runs must produce the same trace, the same syscalls, and
// the trace the WIT contract calls for.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { FD_MASK } from '../host/generated/abi.js';
import { GuestMemory } from '../host/guest-memory.js';
import { CORE_MODULE_PATH, instantiateReactor } from '../host/reactor.js';
import { readReactorStats, type ReactorStats } from '../host/stats.js';
import { FakeKernel, type Peer } from './kernel/fake.js';
import { lowerSys, type HighLevelSys } from './kernel/lower.js';
import { readEvents } from './reactor-events.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const JCO_DIR = join(root, 'dist', 'jco');
const JCO_GLUE = join(JCO_DIR, 'reactor.js');

type JcoGlue = typeof import('../dist/jco/reactor.js');
let jco: JcoGlue;

beforeAll(async () => {
  for (const f of [CORE_MODULE_PATH, JCO_GLUE]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`node build/build.mjs\` first`);
  }
  jco = (await import('../dist/jco/reactor.js')) as JcoGlue;
});

// ---- one engine surface over both paths ----

interface Ev {
  kind: string;
  conn: number;
  status: number;
  detail: number;
  data: string;
}

/** The `engine` exports with JS values, whichever path runs them. */
interface Driver {
  init(cfg: Config): number;
  addListener(fd: number): number;
  addConn(fd: number, connecting: boolean): number;
  runOnce(timeoutMs: number): Ev[];
  backlog(): number;
  takeEvents(): Ev[];
  write(conn: number, data: Uint8Array): number;
  bufferedAmount(conn: number): number;
  close(conn: number, cause: number): number;
  end(conn: number): number;
  shutdown(): void;
  connCount(): number;
  stats(): ReactorStats;
}

/** What the scenarios give `init` (level-triggered: the fake kernel has no EPOLLET). */
type Config = {
  readBufferSize: number; maxWriteBufferSize: number; maxConnReadTimesPerEventLoop: number; noDelay: boolean; maxMemory: number;
};

const KINDS = ['opened', 'data', 'closed', 'listener-paused', 'drained', 'released', 'poll-failed', 'ended', 'accepted'];
const text = new TextDecoder();
const bytes = (s: string) => new TextEncoder().encode(s);

/** Fast path: the core module, `sys` lowered by lowerSys, events decoded as host/engine.ts does. */
function fastPath(kernel: FakeKernel): Driver {
  const mem = new GuestMemory();
  const r = instantiateReactor(lowerSys(kernel, mem), mem);
  const decode = (ret: number): Ev[] => {
    mem.sync();
    return readEvents(mem.buffer, ret).map((e) => ({ ...e, kind: KINDS[e.kind], data: text.decode(e.data) }));
  };
  return {
    init: (c) => r.init(c.readBufferSize, c.maxWriteBufferSize, c.maxConnReadTimesPerEventLoop, c.noDelay ? 1 : 0, c.maxMemory, 0),
    addListener: (fd) => r.addListener(fd),
    addConn: (fd, connecting) => r.addConn(fd, connecting ? 1 : 0),
    runOnce: (t) => decode(r.runOnce(t)),
    backlog: () => r.backlog(),
    takeEvents: () => decode(r.takeEvents()),
    write: (conn, data) => {
      const ptr = mem.alloc(1, data.length);
      mem.u8.set(data, ptr);
      return r.write(conn, ptr, data.length);
    },
    bufferedAmount: (conn) => r.bufferedAmount(conn),
    close: (conn, cause) => r.close(conn, cause),
    end: (conn) => r.end(conn),
    shutdown: () => r.shutdown(),
    connCount: () => r.connCount(),
    stats: () => {
      const ptr = r.stats();
      mem.sync();
      return readReactorStats(mem.buffer, ptr);
    },
  };
}

const SYS_FUNCS = [
  'epollCreate', 'epollCtl', 'epollWait', 'accept', 'read', 'write', 'writev', 'close', 'socketError', 'setNoDelay',
  'shutdown', 'recvFrom', 'sendTo',
] as const;

/**
 * Portable path: the component through jco's glue, importing the fake as
 * its `sys` (under both keys: the glue reads the unversioned one). Each
 * import is wrapped to check it is called from inside the glue.
 */
function jcoPath(kernel: FakeKernel, probe: { calls: number; viaGlue: number }): Driver {
  const sys = {} as Record<string, (...args: never[]) => unknown>;
  for (const name of SYS_FUNCS) {
    const f = kernel[name] as (...args: never[]) => unknown;
    sys[name] = (...args: never[]) => {
      probe.calls++;
      if (new Error().stack?.includes(JCO_GLUE)) probe.viaGlue++;
      return f(...args);
    };
  }
  const imports = { 'nbio:engine/sys': sys, 'nbio:engine/sys@0.1.0': sys } as unknown as Parameters<JcoGlue['instantiate']>[1];
  const e = jco.instantiate((path) => new WebAssembly.Module(readFileSync(join(JCO_DIR, path))), imports).engine;
  const lift = (evs: ReturnType<typeof e.runOnce>): Ev[] =>
    evs.map((x) => ({ kind: x.kind, conn: x.conn, status: x.status, detail: x.detail, data: text.decode(x.data) }));
  return {
    init: (c) => e.init({ ...c, edgeTriggered: false }),
    addListener: (fd) => e.addListener(fd),
    addConn: (fd, connecting) => e.addConn(fd, connecting),
    runOnce: (t) => lift(e.runOnce(t)),
    backlog: () => e.backlog(),
    takeEvents: () => lift(e.takeEvents()),
    write: (conn, data) => e.write(conn, data),
    bufferedAmount: (conn) => e.bufferedAmount(conn),
    close: (conn, cause) => e.close(conn, cause),
    end: (conn) => e.end(conn),
    shutdown: () => e.shutdown(),
    connCount: () => e.connCount(),
    // jco lifts u64 as bigint.
    stats: () => {
      const s = e.stats();
      const n = (v: bigint) => Number(v);
      return {
        connections: s.connections, accepted: n(s.accepted), dialed: n(s.dialed), added: n(s.added),
        closed: s.closed.map((c) => ({ status: c.status, count: n(c.count) })), closedOther: n(s.closedOther),
        bytesRead: n(s.bytesRead), bytesWritten: n(s.bytesWritten), queued: n(s.queued), queuedMax: n(s.queuedMax),
        memorySize: n(s.memorySize), memoryInUse: n(s.memoryInUse),
      };
    },
  };
}

// ---- recording ----

interface Run {
  /** Normalised: handles shown as c1, c2… in order of first appearance. */
  trace: string[];
  /** Raw handles, in order of first appearance. */
  handles: number[];
  /** The fake's syscall log. */
  calls: string[];
  /** The reactor's `stats` once the scenario ended. */
  stats?: ReactorStats;
}

/** Builds a normalised trace: events one per line, handles as labels. */
class Recorder {
  readonly trace: string[] = [];
  readonly handles: number[] = [];

  label(h: number): string {
    if (!this.handles.includes(h)) this.handles.push(h);
    return `c${this.handles.indexOf(h) + 1}`;
  }

  events(step: string, evs: Ev[]): Ev[] {
    if (evs.length === 0) this.trace.push(`${step}: -`);
    for (const e of evs) {
      const data = e.kind === 'data' ? ` "${e.data}"` : '';
      this.trace.push(`${step}: ${e.kind} ${this.label(e.conn)} ${e.status} ${e.detail}${data}`);
    }
    return evs;
  }

  note(s: string): void {
    this.trace.push(s);
  }

  done(kernel: FakeKernel): Run {
    return { trace: this.trace, handles: this.handles, calls: kernel.calls.slice() };
  }
}

const interest = (kernel: FakeKernel, epfd: number, p: Peer) =>
  `0x${(kernel.interest(epfd, p.fd!)?.events ?? 0).toString(16)}`;

type Scenario = (kernel: FakeKernel, engine: Driver) => Run;

/** Runs `scenario` on each path, each with a fresh FakeKernel. */
function bothPaths(scenario: Scenario) {
  const probe = { calls: 0, viaGlue: 0 };
  const run = (kernel: FakeKernel, engine: Driver): Run => ({ ...scenario(kernel, engine), stats: engine.stats() });
  const k1 = new FakeKernel();
  const fast = run(k1, fastPath(k1));
  const k2 = new FakeKernel();
  const portable = run(k2, jcoPath(k2, probe));
  return { fast, portable, probe };
}

// ---- scenario 1: the engine's life cycle ----

const PAYLOAD = 'abcdefghijklmnopqrstuvwxyz0123456789ABCD'; // 40 bytes
const REPLY = 'hello, portable world'; // 21 bytes

const lifeCycle: Scenario = (kernel, engine) => {
  const r = new Recorder();
  const lfd = kernel.listen();
  const epfd = engine.init({ readBufferSize: 16, maxWriteBufferSize: 64, maxConnReadTimesPerEventLoop: 2, noDelay: true, maxMemory: 0 });
  r.note(`init -> ${epfd}`);
  r.note(`add-listener(${lfd}) -> ${engine.addListener(lfd)}`);

  // Accept: send capacity 8, so the reply below only partly fits.
  const a = kernel.connectPeer(lfd, 8);
  const [opened] = r.events('run-once', engine.runOnce(0));
  const ha = opened.conn;
  r.note(`A fd ${a.fd} nodelay ${a.noDelay} interest ${interest(kernel, epfd, a)}`);

  // 40 bytes in 16-byte reads, at most 2 per readiness report.
  a.send(PAYLOAD);
  r.events('run-once', engine.runOnce(0));
  r.note(`backlog ${engine.backlog()}`);
  r.events('run-once', engine.runOnce(0));
  r.events('run-once', engine.runOnce(0));

  // A partial write: 8 bytes go out, 13 are queued and EPOLLOUT is armed.
  r.note(`write(A, ${REPLY.length}B) -> ${engine.write(ha, bytes(REPLY))}`);
  r.note(`A buffered ${engine.bufferedAmount(ha)} received "${a.receivedText()}" interest ${interest(kernel, epfd, a)}`);
  r.events('run-once', engine.runOnce(0)); // the peer reads nothing: no progress
  r.note(`A buffered ${engine.bufferedAmount(ha)}`);
  a.drain(13);
  r.events('run-once', engine.runOnce(0)); // OUT: the queue is flushed, OUT disarmed, `drained`
  r.note(`A buffered ${engine.bufferedAmount(ha)} received "${a.receivedText()}" interest ${interest(kernel, epfd, a)}`);

  // Overflow: capacity is 0 now; 40 queued is fine, 40 + 30 > 64 is not.
  r.note(`write(A, 40B) -> ${engine.write(ha, bytes('x'.repeat(40)))}`);
  r.note(`A buffered ${engine.bufferedAmount(ha)} interest ${interest(kernel, epfd, a)}`);
  r.note(`write(A, 30B) -> ${engine.write(ha, bytes('y'.repeat(30)))}`);
  r.events('take-events', engine.takeEvents());
  r.note(`A closed ${a.closed} received ${a.received().length}B buffered ${engine.bufferedAmount(ha)}`);
  r.note(`write(A, 1B) -> ${engine.write(ha, bytes('z'))}`);

  // Two more peers; B gets A's descriptor number under a new handle.
  const b = kernel.connectPeer(lfd);
  const c = kernel.connectPeer(lfd);
  const [ob] = r.events('run-once', engine.runOnce(0));
  const hb = ob.conn;
  r.note(`B fd ${b.fd} C fd ${c.fd} conns ${engine.connCount()}`);

  // B sends, then resets: the bytes are delivered, then the reset closes it.
  b.send('last words');
  b.reset();
  r.events('run-once', engine.runOnce(0));
  r.events('run-once', engine.runOnce(0));
  r.note(`B closed ${b.closed} conns ${engine.connCount()}`);
  r.note(`close(B) -> ${engine.close(hb, 0)}`);
  r.note(`close(A) -> ${engine.close(ha, 0)}`);
  r.events('take-events', engine.takeEvents());

  // Shutdown: C is closed with status 0; nothing is left open.
  engine.shutdown();
  r.events('take-events', engine.takeEvents());
  r.note(`C closed ${c.closed} conns ${engine.connCount()} open fds [${kernel.openFds().join(' ')}]`);
  return r.done(kernel);
};

/** What the WIT contract calls for (fds as the fake numbers them: lowest free >= 3). */
const LIFE_CYCLE = [
  'init -> 4',
  'add-listener(3) -> 0',
  'run-once: opened c1 0 4',
  'A fd 5 nodelay true interest 0x2001',
  'run-once: data c1 0 0 "abcdefghijklmnop"',
  'run-once: data c1 0 0 "qrstuvwxyz012345"',
  'backlog 0',
  'run-once: data c1 0 0 "6789ABCD"',
  'run-once: -',
  'write(A, 21B) -> 21',
  'A buffered 13 received "hello, p" interest 0x2005',
  'run-once: -',
  'A buffered 13',
  'run-once: drained c1 0 0',
  `A buffered 0 received "${REPLY}" interest 0x2001`,
  'write(A, 40B) -> 40',
  'A buffered 40 interest 0x2005',
  'write(A, 30B) -> -105',
  'take-events: closed c1 2 0',
  'A closed true received 21B buffered 0',
  'write(A, 1B) -> -9',
  'run-once: opened c2 0 4',
  'run-once: opened c3 0 4',
  'B fd 5 C fd 6 conns 2',
  'run-once: data c2 0 0 "last words"',
  'run-once: closed c2 -104 1',
  'B closed true conns 1',
  'close(B) -> -9',
  'close(A) -> -9',
  'take-events: -',
  'take-events: closed c3 0 0',
  'C closed true conns 0 open fds []',
];

// ---- scenario 2: gathering writes (writev) and the peer's EOF ----

const BIG = 5000; // above the reactor's 4 KiB staging arena: each write is queued where the host put it

const gathering: Scenario = (kernel, engine) => {
  const r = new Recorder();
  const lfd = kernel.listen();
  r.note(`init -> ${engine.init({ readBufferSize: 16, maxWriteBufferSize: 0, maxConnReadTimesPerEventLoop: 1, noDelay: false, maxMemory: 0 })}`);
  r.note(`add-listener(${lfd}) -> ${engine.addListener(lfd)}`);
  const a = kernel.connectPeer(lfd, 8);
  const [opened] = r.events('run-once', engine.runOnce(0));
  const h = opened.conn;
  r.note(`A nodelay ${a.noDelay}`);

  const sent = [bytes('a'.repeat(BIG)), bytes('b'.repeat(BIG)), bytes('tail')];
  for (const chunk of sent) r.note(`write(A, ${chunk.length}B) -> ${engine.write(h, chunk)}`);
  r.note(`A buffered ${engine.bufferedAmount(h)} interest ${interest(kernel, 4, a)}`);
  a.drain(6000);
  r.events('run-once', engine.runOnce(0)); // one gathering write, partly taken
  r.note(`A buffered ${engine.bufferedAmount(h)} interest ${interest(kernel, 4, a)}`);
  a.drain(1 << 20);
  r.events('run-once', engine.runOnce(0)); // the rest
  r.note(`A buffered ${engine.bufferedAmount(h)} interest ${interest(kernel, 4, a)}`);
  const all = Buffer.concat(sent);
  r.note(`A received ${a.received().length}B intact ${Buffer.from(a.received()).equals(all)}`);

  // The peer ends its stream: the last bytes, then `ended`; the connection
  // still takes writes, and closes (status 1: the peer ended first) once
  // this side ends too.
  a.send('bye');
  a.end();
  r.events('run-once', engine.runOnce(0));
  r.events('run-once', engine.runOnce(0));
  r.note(`A closed ${a.closed} interest ${interest(kernel, 4, a)}`);
  r.note(`write(A, 5B) -> ${engine.write(h, bytes('reply'))}`);
  r.note(`end(A) -> ${engine.end(h)}`);
  r.events('take-events', engine.takeEvents());
  r.note(`A closed ${a.closed} conns ${engine.connCount()} got "${text.decode(a.received().subarray(-5))}"`);
  engine.shutdown();
  r.events('take-events', engine.takeEvents());
  r.note(`open fds [${kernel.openFds().join(' ')}]`);
  return r.done(kernel);
};

const GATHERING = [
  'init -> 4',
  'add-listener(3) -> 0',
  'run-once: opened c1 0 4',
  'A nodelay false',
  'write(A, 5000B) -> 5000',
  'write(A, 5000B) -> 5000',
  'write(A, 4B) -> 4',
  'A buffered 9996 interest 0x2005',
  'run-once: -',
  'A buffered 3996 interest 0x2005',
  'run-once: drained c1 0 0',
  'A buffered 0 interest 0x2001',
  'A received 10004B intact true',
  'run-once: data c1 0 0 "bye"',
  'run-once: ended c1 0 0',
  'A closed false interest 0x0',
  'write(A, 5B) -> 5',
  'end(A) -> 0',
  'take-events: closed c1 1 0',
  'A closed true conns 0 got "reply"',
  'take-events: -',
  'open fds []',
];

// ---- scenario 3: dialing (add-conn with a connect in progress) ----

const dialing: Scenario = (kernel, engine) => {
  const r = new Recorder();
  const epfd = engine.init({ readBufferSize: 64, maxWriteBufferSize: 0, maxConnReadTimesPerEventLoop: 3, noDelay: true, maxMemory: 0 });
  r.note(`init -> ${epfd}`);

  // A connect in progress: registered for OUT, nothing reported until it completes.
  const a = kernel.dial();
  const ha = engine.addConn(a.fd!, true);
  r.note(`add-conn(A, connecting) -> ${r.label(ha)} interest ${interest(kernel, epfd, a)}`);
  r.events('run-once', engine.runOnce(0));
  a.establish();
  r.events('run-once', engine.runOnce(0));
  r.note(`A nodelay ${a.noDelay} interest ${interest(kernel, epfd, a)}`);
  r.note(`write(A, 5B) -> ${engine.write(ha, bytes('hello'))} received "${a.receivedText()}"`);
  a.send('world');
  r.events('run-once', engine.runOnce(0));

  // A refused connect: `closed` with the connect's errno, never `opened`.
  const b = kernel.dial();
  const hb = engine.addConn(b.fd!, true);
  r.note(`add-conn(B, connecting) -> ${r.label(hb)}`);
  b.refuse();
  r.events('run-once', engine.runOnce(0));
  r.note(`B closed ${b.closed} conns ${engine.connCount()}`);

  // An already connected socket: `opened` at once (take-events).
  const c = kernel.dial();
  c.establish();
  r.note(`add-conn(C, connected) -> ${r.label(engine.addConn(c.fd!, false))}`);
  r.events('take-events', engine.takeEvents());
  engine.shutdown();
  r.events('take-events', engine.takeEvents());
  r.note(`open fds [${kernel.openFds().join(' ')}]`);
  return r.done(kernel);
};

const DIALING = [
  'init -> 3',
  'add-conn(A, connecting) -> c1 interest 0x2005',
  'run-once: -',
  'run-once: opened c1 0 0',
  'A nodelay true interest 0x2001',
  'write(A, 5B) -> 5 received "hello"',
  'run-once: data c1 0 0 "world"',
  'add-conn(B, connecting) -> c2',
  'run-once: closed c2 -111 3',
  'B closed true conns 1',
  'add-conn(C, connected) -> c3',
  'take-events: opened c3 0 0',
  'take-events: closed c1 0 0',
  'take-events: closed c3 0 0',
  'open fds []',
];

// ---- the proof ----

describe('portable path: the component through jco with a fake sys', () => {
  it('the fake satisfies the sys import type jco generated', () => {
    // Type-level (checked by tsc, not by vitest): FakeKernel fits jco's ImportObject.
    const k: HighLevelSys = new FakeKernel();
    const imports: Parameters<JcoGlue['instantiate']>[1] = { 'nbio:engine/sys@0.1.0': k };
    expect(Object.keys(imports)).toEqual(['nbio:engine/sys@0.1.0']);
  });

  describe.each([
    { name: 'life cycle', scenario: lifeCycle, expected: LIFE_CYCLE },
    { name: 'gathering writes and EOF', scenario: gathering, expected: GATHERING },
    { name: 'dialing', scenario: dialing, expected: DIALING },
  ])('$name', ({ scenario, expected }) => {
    let run: ReturnType<typeof bothPaths>;
    beforeAll(() => {
      run = bothPaths(scenario);
    });

    it('the fast path gives the trace the contract calls for', () => {
      expect(run.fast.trace).toEqual(expected);
    });

    it('the jco path gives the trace the contract calls for', () => {
      expect(run.portable.trace).toEqual(expected);
    });

    it('both paths give the same trace, handles and syscalls', () => {
      expect(run.portable.trace).toEqual(run.fast.trace);
      expect(run.portable.handles).toEqual(run.fast.handles);
      expect(run.portable.calls).toEqual(run.fast.calls);
    });

    it('both paths count the same stats: the host decodes the generated layout as jco decodes the WIT', () => {
      const { stats } = run.fast;
      expect(stats!.closed.length).toBeGreaterThan(0);
      expect(stats!.bytesRead).toBeGreaterThan(0);
      expect(stats!.bytesWritten).toBeGreaterThan(0);
      expect(stats!.memorySize).toBeGreaterThan(0);
      expect(run.portable.stats).toEqual(stats);
    });

    it('the jco run really went through the glue', () => {
      expect(run.probe.calls).toBeGreaterThan(0);
      expect(run.probe.calls).toBe(run.portable.calls.length);
      expect(run.probe.viaGlue).toBe(run.probe.calls);
      expect(run.portable.calls[0]).toMatch(/^epollCreate\(\) -> \d+$/);
    });
  });

  it('handles carry a generation: a reused fd gets a new handle', () => {
    const { fast } = bothPaths(lifeCycle);
    const [ha, hb] = fast.handles;
    expect(hb & FD_MASK).toBe(ha & FD_MASK);
    expect(hb).not.toBe(ha);
  });

  it('the gathering scenario did use writev, split across chunks', () => {
    // Exercises lowerSys's iovec records. The chunk lengths follow the
    // reactor's queue policy: a write over 4 KiB is queued where the host
    // put it (its own chunk), and a small one behind it fills that
    // chunk's last page.
    const { portable } = bothPaths(gathering);
    expect(portable.calls).toContain('writev(5, [4992B 5004B]) -> 6000');
    expect(portable.calls).toContain('write(5, 3996B) -> 3996');
  });
});
