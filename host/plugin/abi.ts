/**
 * The canonical ABI of the plugin world, host side: the import object a
 * plugin's core module is instantiated with (both spellings of the names,
 * see world.ts), and lifting and lowering of the values that cross: byte
 * lists and strings in the plugin's memory, return areas.
 *
 * Everything a plugin passes is checked as the component model would: a
 * list or return area outside its memory, a misaligned return area, an
 * invalid enum value or UTF-8 string traps the plugin (a
 * {@link PluginViolation} thrown from the host function ends the call).
 * A string the host reads only the start of (see {@link liftString}) is
 * checked as far as it is read.
 */
import { PluginImports } from '../generated/plugin.js';
import { REFUEL_IMPORT } from './metering.js';
import type { GuestMemory } from '../guest/memory.js';
import type { ImportName } from './world.js';

/** The plugin broke the rules of its world (a bad handle, a list out of bounds...): a trap. */
export class PluginViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginViolation';
  }
}

/** The host functions, by canonical name, in lowered (all-i32) form. */
export type LoweredImports = Record<ImportName, (...args: number[]) => number | void>;

/**
 * The import object: the lowered functions under both spellings of their
 * names, and the engine's own import the metering added (`refuel`).
 */
export function importObject(fns: LoweredImports, refuel: () => number): WebAssembly.Imports {
  const imports: Record<string, Record<string, (...args: number[]) => number | void>> = {};
  for (const name of Object.keys(PluginImports) as ImportName[]) {
    const { modules, names } = PluginImports[name];
    modules.forEach((module, i) => {
      imports[module] ??= {};
      imports[module][names[i]] = fns[name];
    });
  }
  return { ...imports, [REFUEL_IMPORT.module]: { [REFUEL_IMPORT.name]: refuel } };
}

/** Checks that [ptr, ptr + len) lies in the plugin's memory (traps otherwise). */
export function checkRange(mem: GuestMemory, ptr: number, len: number, what: string): void {
  mem.sync();
  if (ptr < 0 || len < 0 || ptr + len > mem.u8.length) {
    throw new PluginViolation(`${what} [${ptr}, +${len}) lies outside the plugin's memory`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/**
 * A string the plugin passed, of which the host reads at most `maxBytes`:
 * a longer one is cut there (at the start of the character that crosses
 * that point) and marked with '…'; what is not read is not checked. The
 * whole string must lie in memory; invalid UTF-8 in what is read traps.
 */
export function liftString(mem: GuestMemory, ptr: number, len: number, maxBytes: number): string {
  checkRange(mem, ptr, len, 'a string');
  let end = ptr + len;
  if (len > maxBytes) {
    end = ptr + maxBytes;
    // Back to the first byte of a character cut in two (at most 3 continuation bytes).
    for (let i = 0; i < 3 && (mem.u8[end] & 0xc0) === 0x80; i++) end--;
  }
  let text: string;
  try {
    text = utf8.decode(mem.u8.subarray(ptr, end));
  } catch {
    throw new PluginViolation('a string is not valid UTF-8');
  }
  return end === ptr + len ? text : `${text}…`;
}

/** Where a string result's {ptr, len} go in its return area (host/generated/plugin.ts). */
export interface StringReturnArea {
  readonly size: number;
  readonly align: number;
  readonly ptr: number;
  readonly len: number;
}

/**
 * Returns a string to the plugin: its bytes go where the plugin's
 * `cabi_realloc` says, and {ptr, len} into the return area at `ret`, laid
 * out as `area`.
 */
export function lowerString(mem: GuestMemory, text: string, ret: number, area: StringReturnArea): void {
  checkRange(mem, ret, area.size, 'a return area');
  if (ret % area.align !== 0) throw new PluginViolation(`the return area ${ret} is not aligned to ${area.align} bytes`);
  const bytes = encoder.encode(text);
  const ptr = mem.alloc(1, bytes.length);
  checkRange(mem, ptr, bytes.length, 'memory from cabi_realloc');
  mem.u8.set(bytes, ptr);
  mem.i32[(ret + area.ptr) >>> 2] = ptr;
  mem.i32[(ret + area.len) >>> 2] = bytes.length;
}
