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
import { REFUEL_IMPORT } from './metering.js';
import type { GuestMemory } from '../guest-memory.js';
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
  const conn = {
    '[method]connection.write': fns.write,
    '[method]connection.end': fns.end,
    '[method]connection.close': fns.close,
    '[method]connection.pause': fns.pause,
    '[method]connection.resume': fns.resume,
    '[method]connection.local-address': fns.localAddress,
    '[method]connection.remote-address': fns.remoteAddress,
  };
  const host = { log: fns.log };
  return {
    'nbio:plugin/conn@0.1.0': { ...conn, '[resource-drop]connection': fns.drop },
    'cm32p2|nbio:plugin/conn@0.1': { ...conn, connection_drop: fns.drop },
    'nbio:plugin/host@0.1.0': host,
    'cm32p2|nbio:plugin/host@0.1': host,
    [REFUEL_IMPORT.module]: { [REFUEL_IMPORT.name]: refuel },
  };
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

/**
 * Returns a string to the plugin: its bytes go where the plugin's
 * `cabi_realloc` says, and {ptr, len} into the return area at `ret`.
 */
export function lowerString(mem: GuestMemory, text: string, ret: number): void {
  checkRange(mem, ret, 8, 'a return area');
  if (ret % 4 !== 0) throw new PluginViolation(`the return area ${ret} is not aligned to 4 bytes`);
  const bytes = encoder.encode(text);
  const ptr = mem.alloc(1, bytes.length);
  checkRange(mem, ptr, bytes.length, 'memory from cabi_realloc');
  mem.u8.set(bytes, ptr);
  const w = ret >>> 2;
  mem.i32[w] = ptr;
  mem.i32[w + 1] = bytes.length;
}
