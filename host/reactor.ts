import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { guardExports, type FaultSink } from './fault.js';
import { GuestMemory } from './guest-memory.js';
import { packageRoot } from './package-root.js';

/** Where `npm run build` puts the reactor's core module. */
export const CORE_MODULE_PATH = join(packageRoot, 'dist', 'wasm', 'reactor.core.wasm');

/** The import module name of the `sys` interface in the core module. */
const SYS_MODULE = 'nbio:engine/sys@0.1.0';
const ENGINE = 'nbio:engine/engine@0.1.0#';

/**
 * The `sys` imports in canonical-ABI ("lowered") form, keyed by their WIT
 * names: every parameter and result is an i32; list results are written to
 * a return area (see {@link GuestMemory.storeListResult}).
 */
export interface LoweredSys {
  'epoll-create'(): number;
  'epoll-ctl'(epfd: number, op: number, fd: number, events: number, token: number): number;
  'epoll-wait'(epfd: number, maxEvents: number, timeoutMs: number, ret: number): void;
  accept(fd: number): number;
  read(fd: number, maxLen: number, ret: number): void;
  write(fd: number, ptr: number, len: number): number;
  writev(fd: number, ptr: number, count: number): number;
  close(fd: number): number;
  'socket-error'(fd: number): number;
  'set-no-delay'(fd: number, on: number): number;
  shutdown(fd: number, how: number): number;
  'recv-from'(fd: number, maxLen: number, ret: number): void;
  'send-to'(fd: number, ptr: number, len: number, addrPtr: number, addrLen: number): number;
}

/**
 * The reactor's `engine` exports, called directly on the core module (the
 * fast path). Contracts are in wit/nbio-engine.wit; list results come back
 * as the address of an 8-byte {ptr, len} pair in reactor memory.
 */
export interface Reactor {
  init(
    readBufferSize: number, maxWriteBufferSize: number, maxReads: number, noDelay: number, maxMemory: number,
    edgeTriggered: number,
  ): number;
  addListener(fd: number): number;
  addAcceptor(fd: number): number;
  resumeListener(fd: number): number;
  removeListener(fd: number): number;
  addConn(fd: number, connecting: number): number;
  addDatagram(fd: number, connected: number): number;
  runOnce(timeoutMs: number): number;
  backlog(): number;
  takeEvents(): number;
  write(conn: number, ptr: number, len: number): number;
  bufferedAmount(conn: number): number;
  close(conn: number, cause: number): number;
  end(conn: number): number;
  closeWrite(conn: number): number;
  pauseReading(conn: number): number;
  resumeReading(conn: number): number;
  shutdown(): void;
  connCount(): number;
  memoryInUse(): number;
}

/** Event kinds (`event-kind` in the WIT). */
export const EventKind = {
  Opened: 0,
  Data: 1,
  Closed: 2,
  ListenerPaused: 3,
  Drained: 4,
  Released: 5,
  PollFailed: 6,
  Ended: 7,
  Accepted: 8,
} as const;

/** Close causes that are not errnos (`status` of a `closed` event). */
export const CloseCause = {
  Local: 0,
  PeerEnded: 1,
  WriteOverflow: 2,
  /** Host-defined (>= 16): the dial timed out. */
  DialTimeout: 16,
  /** Host-defined: the read deadline passed. */
  ReadTimeout: 17,
  /** Host-defined: the write deadline passed with bytes still queued. */
  WriteTimeout: 18,
} as const;

/** Syscall names of `failed-call` values (`detail` of a `closed` event). */
export const FAILED_CALL = ['', 'read', 'write', 'connect', 'epoll_ctl', 'shutdown', 'sendto', 'recvfrom'] as const;

/** Low 20 bits of a connection handle: its file descriptor (a generation number is above). */
export const FD_MASK = 0xfffff;

/** Bit 31 of a handle: a UDP peer, which has no descriptor (the low 20 bits index the reactor's peer table). */
export const PEER_BIT = 0x8000_0000;

/** Size of one event record in reactor memory, in 32-bit words (24 bytes). */
export const EVENT_WORDS = 6;

/** Wraps an export whose WIT result is a u32 (core i32 results arrive signed in JS). */
function unsigned<A extends number[]>(f: (...args: A) => number): (...args: A) => number {
  return (...args) => f(...args) >>> 0;
}

let coreModule: WebAssembly.Module | undefined;

/** The compiled core module, compiled once per process (per thread). */
function reactorModule(): WebAssembly.Module {
  coreModule ??= new WebAssembly.Module(readFileSync(CORE_MODULE_PATH));
  return coreModule;
}

/** Options of {@link instantiateReactor}. */
export interface InstantiateOptions {
  /** The core module to instantiate (default: the built reactor, dist/wasm/reactor.core.wasm). */
  module?: WebAssembly.Module;
  /**
   * Contain faults: an exception from any export (a trap) goes here, once,
   * instead of to the caller, and the instance is never entered again (see
   * host/fault.ts). Without it, exceptions propagate.
   */
  onFault?: FaultSink;
}

/**
 * Instantiates a reactor with the given lowered `sys`. `memory` is bound to
 * the new instance's memory before this returns, so the `sys` functions may
 * use it from the first call on.
 */
export function instantiateReactor(sys: LoweredSys, memory: GuestMemory, options: InstantiateOptions = {}): Reactor {
  const instance = new WebAssembly.Instance(options.module ?? reactorModule(), {
    [SYS_MODULE]: sys as unknown as WebAssembly.ModuleImports,
  });
  const raw = instance.exports as Record<string, unknown>;
  const x = options.onFault === undefined ? raw : guardExports(raw, options.onFault, { cabi_realloc: 0 });
  const fn = (name: string) => {
    const f = x[ENGINE + name];
    if (typeof f !== 'function') throw new Error(`nbio-wasm: reactor module lacks export ${ENGINE + name}`);
    return f as (...args: number[]) => number;
  };
  memory.attach(x.memory as WebAssembly.Memory, x.cabi_realloc as (a: number, b: number, c: number, d: number) => number);
  return {
    init: fn('init'),
    addListener: fn('add-listener'),
    addAcceptor: fn('add-acceptor'),
    resumeListener: fn('resume-listener'),
    removeListener: fn('remove-listener'),
    addConn: fn('add-conn'),
    addDatagram: fn('add-datagram'),
    runOnce: fn('run-once'),
    backlog: fn('backlog'),
    takeEvents: fn('take-events'),
    write: fn('write'),
    bufferedAmount: unsigned(fn('buffered-amount')),
    close: fn('close'),
    end: fn('end'),
    closeWrite: fn('close-write'),
    pauseReading: fn('pause-reading'),
    resumeReading: fn('resume-reading'),
    shutdown: fn('shutdown') as () => void,
    connCount: unsigned(fn('conn-count')),
    memoryInUse: unsigned(fn('memory-in-use')),
  };
}
