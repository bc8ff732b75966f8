/**
 * The memory cap, enforced in the module itself: the declared maximum of
 * the plugin's linear memory is rewritten to at most `maxMemory`, so the
 * engine (V8) refuses any growth past it, whatever the module declared or
 * does. Tables get the same treatment with a fixed cap, since a table can
 * grow too.
 */
import { NbioError } from '../errors.js';
import { leb, Reader, sections } from './binary.js';

/** Bytes in a WebAssembly page. */
export const PAGE = 65536;
/** Most elements a plugin's table may have (8 bytes or more each, in V8). */
export const MAX_TABLE_ELEMENTS = 100_000;

const TABLE_SECTION = 4;
const MEMORY_SECTION = 5;
const LIMITS_MIN = 0x00;
const LIMITS_MIN_MAX = 0x01;

function loadError(message: string): NbioError {
  return new NbioError('ERR_NBIO_PLUGIN_LOAD', `plugin refused: ${message}`);
}

/** Reads limits (plain 32-bit ones only); returns min and max (undefined: none). */
function readLimits(r: Reader, what: string): { min: number; max: number | undefined } {
  const flags = r.byte();
  if (flags !== LIMITS_MIN && flags !== LIMITS_MIN_MAX) throw loadError(`its ${what} is shared, 64-bit or has custom pages`);
  const min = r.u32();
  return { min, max: flags === LIMITS_MIN_MAX ? r.u32() : undefined };
}

/** Limits with max = min(declared max, cap); refuses a minimum above the cap. */
function cappedLimits(limits: { min: number; max: number | undefined }, cap: number, what: string): number[] {
  if (limits.min > cap) throw loadError(`its ${what} starts at ${limits.min}, above the cap of ${cap}`);
  return [LIMITS_MIN_MAX, ...leb(limits.min), ...leb(Math.min(limits.max ?? cap, cap))];
}

/**
 * Returns `module` with its memory's maximum at most `maxPages` pages and
 * its tables' at most MAX_TABLE_ELEMENTS. Throws ERR_NBIO_PLUGIN_LOAD if
 * the module starts out above a cap.
 */
export function capMemory(module: Uint8Array, maxPages: number): Uint8Array {
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  let at = 8;
  for (const s of sections(module)) {
    if (s.id !== TABLE_SECTION && s.id !== MEMORY_SECTION) continue;
    const r = new Reader(module, s.start, s.end);
    const body: number[] = [];
    const count = r.u32();
    body.push(...leb(count));
    for (let i = 0; i < count; i++) {
      if (s.id === MEMORY_SECTION) {
        body.push(...cappedLimits(readLimits(r, 'memory'), maxPages, 'memory (in 64 KiB pages)'));
      } else {
        const refType = r.byte();
        if (refType === 0x40) throw loadError('it has a table with an initializer expression');
        body.push(refType, ...cappedLimits(readLimits(r, 'table'), MAX_TABLE_ELEMENTS, 'table (in elements)'));
      }
    }
    parts.push(module.subarray(at, s.begin), Uint8Array.from([s.id, ...leb(body.length), ...body]));
    at = s.end;
  }
  parts.push(module.subarray(at));
  return Buffer.concat(parts);
}
