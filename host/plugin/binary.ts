/**
 * Reading (and rewriting) the section structure of WebAssembly binaries:
 * components and core modules share the same framing, a preamble of 8
 * bytes and then sections of `id`, LEB128 size and contents.
 */

/** The preamble of a core module (version 1) and of a component (version 0xd, layer 1). */
export const CORE_PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
export const COMPONENT_PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/** A section: its id, where it begins (its id byte) and where its contents are. */
export interface Section {
  id: number;
  begin: number;
  start: number;
  end: number;
}

/** A cursor over bytes, reading LEB128 numbers and names. Throws RangeError past the end. */
export class Reader {
  pos: number;
  constructor(readonly bytes: Uint8Array, pos = 0, readonly end = bytes.length) {
    this.pos = pos;
  }

  byte(): number {
    if (this.pos >= this.end) throw new RangeError('unexpected end of the binary');
    return this.bytes[this.pos++];
  }

  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new RangeError('malformed LEB128 number');
  }

  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) throw new RangeError('unexpected end of the binary');
    const text = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return text;
  }
}

/** Whether `bytes` starts with `preamble`. */
export function hasPreamble(bytes: Uint8Array, preamble: readonly number[]): boolean {
  return bytes.length >= 8 && preamble.every((b, i) => bytes[i] === b);
}

/** The sections of a core module or component, in order. */
export function sections(bytes: Uint8Array): Section[] {
  const r = new Reader(bytes, 8);
  const out: Section[] = [];
  while (r.pos < bytes.length) {
    const begin = r.pos;
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    if (start + size > bytes.length) throw new RangeError('a section runs past the end of the binary');
    out.push({ id, begin, start, end: start + size });
    r.pos = start + size;
  }
  return out;
}

/** The LEB128 encoding of an unsigned number. */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}
