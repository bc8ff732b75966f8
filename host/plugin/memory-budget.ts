/**
 * The memory budget of a plugin instance (`maxMemory`): one figure for
 * everything an instance makes V8 allocate, its linear memory, all its
 * tables, and what instantiating it costs besides (globals, exports,
 * functions, the entries of element segments, the instance itself).
 *
 * It is checked when the plugin is loaded: a module whose declared
 * minimums already need more than the budget, or that declares more than
 * one memory or {@link MAX_TABLES} tables, is refused. It is enforced on
 * every grow by the metering (metering.ts), which traps a `memory.grow`
 * or `table.grow` that would take the memory and the tables together past
 * it; and the declared maxima are rewritten so that V8 itself refuses to
 * grow any of them past what the budget leaves ({@link capLimits}).
 *
 * The figures per item ({@link BYTES}) are about twice what V8 11 was
 * measured to allocate for them, so that the budget bounds what an
 * instance really holds.
 */
import { NbioError } from '../api/errors.js';
import { PAGE } from '../guest/memory.js';
import { leb, Reader, sections } from './binary.js';

/** Most tables a plugin may declare. */
const MAX_TABLES = 8;
/** Largest table V8 allows (its --wasm-max-table-size). */
const V8_MAX_TABLE = 10_000_000;

/** What the budget charges an instance for each item (V8 11, measured: 8 to 40, 8 to 17, 85 to 180, 8, 40 bytes). */
export const BYTES = {
  tableElement: 64,
  global: 32,
  export: 384,
  function: 16,
  elementEntry: 64,
  /** The instance itself, its import and export objects, and what the metering adds. */
  instance: 64 * 1024,
} as const;

const TABLE_SECTION = 4;
const MEMORY_SECTION = 5;
const LIMITS_MIN = 0x00;
const LIMITS_MIN_MAX = 0x01;

/** Declared limits: min and max, in pages or elements (max undefined: none). */
export interface Limits {
  min: number;
  max: number | undefined;
}

/** What an instance of a module allocates, as the module declares it. */
export interface InstanceShape {
  memories: Limits[];
  tables: Limits[];
  globals: number;
  exports: number;
  functions: number;
  /** Entries of all element segments. */
  elementEntries: number;
}

/** The budget of one instance, as the metering enforces it. */
export interface MemoryBudget {
  /** `maxMemory`. */
  maxBytes: number;
  /** What the instance costs besides its memory and tables. */
  fixedBytes: number;
  /** What a table element counts for. */
  tableElementBytes: number;
  /** The maxima written into the module: the memory's, in pages, and each table's. */
  memoryMaxPages: number;
  tableMax: number[];
}

function loadError(message: string): NbioError {
  return new NbioError('ERR_NBIO_PLUGIN_LOAD', `plugin refused: ${message}`);
}

/** Reads limits (plain 32-bit ones only). */
function readLimits(r: Reader, what: string): Limits {
  const flags = r.byte();
  if (flags !== LIMITS_MIN && flags !== LIMITS_MIN_MAX) throw loadError(`its ${what} is shared, 64-bit or has custom pages`);
  const min = r.u32();
  return { min, max: flags === LIMITS_MIN_MAX ? r.u32() : undefined };
}

/** The memories and tables a core module defines, with their limits. */
export function declaredLimits(module: Uint8Array): { memories: Limits[]; tables: Limits[] } {
  const memories: Limits[] = [];
  const tables: Limits[] = [];
  for (const s of sections(module)) {
    if (s.id !== TABLE_SECTION && s.id !== MEMORY_SECTION) continue;
    const r = new Reader(module, s.start, s.end);
    for (let n = r.u32(); n > 0; n--) {
      if (s.id === MEMORY_SECTION) {
        memories.push(readLimits(r, 'memory'));
      } else {
        if (r.byte() === 0x40) throw loadError('it has a table with an initializer expression');
        tables.push(readLimits(r, 'table'));
      }
    }
  }
  return { memories, tables };
}

/**
 * The budget of an instance of a module of `shape` within `maxBytes`.
 * Throws ERR_NBIO_PLUGIN_LOAD, with the figures, if what the module
 * declares cannot fit.
 */
export function planBudget(shape: InstanceShape, maxBytes: number): MemoryBudget {
  if (shape.memories.length !== 1) throw loadError(`it must define exactly one memory, it has ${shape.memories.length}`);
  if (shape.tables.length > MAX_TABLES) throw loadError(`it declares ${shape.tables.length} tables; a plugin may have at most ${MAX_TABLES}`);
  const fixedBytes = BYTES.instance + shape.globals * BYTES.global + shape.exports * BYTES.export +
    shape.functions * BYTES.function + shape.elementEntries * BYTES.elementEntry;
  const memoryMin = shape.memories[0].min * PAGE;
  const tableMins = shape.tables.map((t) => t.min * BYTES.tableElement);
  const tablesMin = tableMins.reduce((a, n) => a + n, 0);
  const needed = fixedBytes + memoryMin + tablesMin;
  if (needed > maxBytes) {
    throw loadError(`an instance needs at least ${needed} bytes (memory ${memoryMin}, tables ${tablesMin}, ` +
      `globals, exports, functions and element segments ${fixedBytes}), more than maxMemory (${maxBytes}): ` +
      'raise maxMemory or make the plugin smaller');
  }
  const spare = maxBytes - needed;
  const declaredMax = (limits: Limits, cap: number) => Math.min(limits.max ?? cap, cap);
  return {
    maxBytes,
    fixedBytes,
    tableElementBytes: BYTES.tableElement,
    memoryMaxPages: declaredMax(shape.memories[0], shape.memories[0].min + Math.floor(spare / PAGE)),
    tableMax: shape.tables.map((t) => declaredMax(t, Math.min(t.min + Math.floor(spare / BYTES.tableElement), V8_MAX_TABLE))),
  };
}

/**
 * Returns `module` with the maxima of its memory and tables as `budget`
 * says, so that V8 refuses any grow past them, whatever the module
 * declared (the metering traps one that would pass the budget first).
 */
export function capLimits(module: Uint8Array, budget: MemoryBudget): Uint8Array {
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  let at = 8;
  for (const s of sections(module)) {
    if (s.id !== TABLE_SECTION && s.id !== MEMORY_SECTION) continue;
    const r = new Reader(module, s.start, s.end);
    const count = r.u32();
    const body: number[] = [...leb(count)];
    for (let i = 0; i < count; i++) {
      const type = s.id === TABLE_SECTION ? [r.byte()] : [];
      const limits = readLimits(r, s.id === TABLE_SECTION ? 'table' : 'memory');
      const max = s.id === TABLE_SECTION ? budget.tableMax[i] : budget.memoryMaxPages;
      body.push(...type, LIMITS_MIN_MAX, ...leb(limits.min), ...leb(max));
    }
    parts.push(module.subarray(at, s.begin), Uint8Array.from([s.id, ...leb(body.length), ...body]));
    at = s.end;
  }
  parts.push(module.subarray(at));
  return Buffer.concat(parts);
}
