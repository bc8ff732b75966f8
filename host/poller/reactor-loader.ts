/**
 * Loads the reactor's core module (compiled once per thread) and makes an
 * instance of it over a given lowered `sys`, with a barrier around its
 * exports when faults are to be contained (host/poller/fault.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { guardExports, type FaultSink } from './fault.js';
import type { GuestMemory } from '../guest/memory.js';
import type { LoweredSys, Reactor } from '../guest/reactor.js';
import { packageRoot } from '../sys/package-root.js';

/** Where `npm run build` puts the reactor's core module. */
export const CORE_MODULE_PATH = join(packageRoot, 'dist', 'wasm', 'reactor.core.wasm');

/** The import module name of the `sys` interface in the core module. */
const SYS_MODULE = 'nbio:engine/sys@0.1.0';
const ENGINE = 'nbio:engine/engine@0.1.0#';


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
   * host/poller/fault.ts). Without it, exceptions propagate.
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
    writeFile: fn('write-file') as unknown as Reactor['writeFile'],
    bufferedAmount: unsigned(fn('buffered-amount')),
    close: fn('close'),
    end: fn('end'),
    closeWrite: fn('close-write'),
    pauseReading: fn('pause-reading'),
    resumeReading: fn('resume-reading'),
    shutdown: fn('shutdown') as () => void,
    connCount: unsigned(fn('conn-count')),
    memoryInUse: unsigned(fn('memory-in-use')),
    stats: fn('stats'),
  };
}
