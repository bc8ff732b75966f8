// What the portable-path tests share. The portable path proof: the reactor
// component, run through `jco transpile` glue with an in-memory `sys`
// (FakeKernel), behaves exactly as the fast path (the core module with
// lowered sys functions) driven by the same fake. Both runs must produce the
// same trace, the same syscalls, and the trace the WIT contract calls for.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { GuestMemory } from '../../host/guest/memory.js';
import { CORE_MODULE_PATH, instantiateReactor } from '../../host/poller/reactor-loader.js';
import { readReactorStats, type ReactorStats } from '../../host/api/stats.js';
import { FakeKernel, type Peer } from './kernel/fake.js';
import { lowerSys } from './kernel/lower.js';
import { readEvents } from './reactor-events.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const JCO_DIR = join(root, 'dist', 'jco');
const JCO_GLUE = join(JCO_DIR, 'reactor.js');

export type JcoGlue = typeof import('../../dist/jco/reactor.js');
let jco: JcoGlue;

/** Checks the reactor is built (core module, jco glue) and loads the glue: each portable-path test file's beforeAll. */
export async function loadJcoGlue(): Promise<void> {
  for (const f of [CORE_MODULE_PATH, JCO_GLUE]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`node build/build.mjs\` first`);
  }
  jco = (await import('../../dist/jco/reactor.js')) as JcoGlue;
}

// ---- one engine surface over both paths ----

interface Ev {
  kind: string;
  conn: number;
  status: number;
  detail: number;
  data: string;
}

/** The `engine` exports with JS values, whichever path runs them. */
export interface Driver {
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
export const text = new TextDecoder();
export const bytes = (s: string) => new TextEncoder().encode(s);

/** Fast path: the core module, `sys` lowered by lowerSys, events decoded as host/engine/engine.ts does. */
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
  'shutdown', 'recvFrom', 'sendTo', 'sendFile',
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
    addConn: (fd, connecting) => e.addConn(fd, connecting ? 'dialing' : 'added'),
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

export interface Run {
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
export class Recorder {
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

export const interest = (kernel: FakeKernel, epfd: number, p: Peer) =>
  `0x${(kernel.interest(epfd, p.fd!)?.events ?? 0).toString(16)}`;

export type Scenario = (kernel: FakeKernel, engine: Driver) => Run;

/** Runs `scenario` on each path, each with a fresh FakeKernel. */
export function bothPaths(scenario: Scenario) {
  const probe = { calls: 0, viaGlue: 0 };
  const run = (kernel: FakeKernel, engine: Driver): Run => ({ ...scenario(kernel, engine), stats: engine.stats() });
  const k1 = new FakeKernel();
  const fast = run(k1, fastPath(k1));
  const k2 = new FakeKernel();
  const portable = run(k2, jcoPath(k2, probe));
  return { fast, portable, probe };
}

// ---- the checks every scenario gets ----

/**
 * Declares, under `name`, the checks `scenario` gets: each path's trace is
 * `expected` (what the WIT contract calls for), both paths agree on trace,
 * handles, syscalls and stats, and the jco run went through the glue.
 */
export function describeScenario(name: string, scenario: Scenario, expected: string[]): void {
  describe(name, () => {
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
}
