// Compiles an AssemblyScript harness (test/reactor/assembly/*.ts) in memory with the
// same runtime and flags as the reactor, and instantiates it; and imposes a
// memory maximum on a compiled module, as an embedder's limit would.
import asc from 'assemblyscript/asc';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Compiles `file` (under test/reactor/assembly/) with extra asc arguments; returns the binary. */
async function compile(file: string, extra: string[]): Promise<Uint8Array<ArrayBuffer>> {
  let binary: Uint8Array<ArrayBuffer> | undefined;
  const errors: string[] = [];
  const { error } = await asc.main(
    // An explicit config: otherwise asc picks up the root asconfig.json and
    // compiles the reactor's entry too.
    [join(root, 'test', 'reactor', 'assembly', file), '--config', join(root, 'test', 'reactor', 'assembly', 'asconfig.json'),
      '--outFile', 'harness.wasm', ...extra],
    {
      writeFile(name: string, contents: Uint8Array | string) {
        if (name.endsWith('.wasm')) binary = contents as Uint8Array<ArrayBuffer>;
      },
      stdout: { write: () => true } as any,
      stderr: { write: (s: string) => { errors.push(String(s)); return true; } } as any,
    },
  );
  if (error || !binary) throw new Error(`asc failed for ${file}: ${error?.message}\n${errors.join('')}`);
  return binary;
}

/** Compiles a harness into its binary; it must import nothing. */
export async function compileHarnessBinary(file: string): Promise<Uint8Array<ArrayBuffer>> {
  const binary = await compile(file, []);
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(binary));
  if (imports.length) throw new Error(`${file}: harness must not import anything: ${JSON.stringify(imports)}`);
  return binary;
}

/**
 * Compiles a guest written for a test (a hostile reactor, a reactor that
 * traps on demand) the way the build compiles the reactor: its
 * `engine$name` exports renamed to the component's names, `sys` imported.
 */
export async function compileGuest(file: string): Promise<WebAssembly.Module> {
  return new WebAssembly.Module(await compile(file, ['--transform', join(root, 'build', 'wit-exports.mjs')]));
}

export async function compileHarness(file: string): Promise<WebAssembly.Instance> {
  return new WebAssembly.Instance(new WebAssembly.Module(await compileHarnessBinary(file)), {});
}

/** Reads an unsigned LEB128 at `at`; returns [value, bytes read]. */
function leb(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  let n = 0;
  for (;;) {
    const b = bytes[at + n++];
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, n];
    shift += 7;
  }
}

function encodeLeb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

/**
 * Returns a copy of a module binary whose (one, defined) memory may not
 * grow past `maxPages` 64 KiB pages: `memory.grow` beyond fails with -1,
 * as under an embedder's limit (wasmtime's store limits).
 */
export function withMemoryMaximum(binary: Uint8Array, maxPages: number): Uint8Array<ArrayBuffer> {
  let at = 8; // magic + version
  while (at < binary.length) {
    const id = binary[at];
    const [size, sizeLen] = leb(binary, at + 1);
    const body = at + 1 + sizeLen;
    if (id === 5) {
      const [count, countLen] = leb(binary, body);
      if (count !== 1) throw new Error(`withMemoryMaximum: ${count} memories`);
      const flags = binary[body + countLen];
      const [min] = leb(binary, body + countLen + 1);
      if (flags !== 0 && flags !== 1) throw new Error(`withMemoryMaximum: memory flags ${flags}`);
      const section = [1, 1, ...encodeLeb(min), ...encodeLeb(maxPages)];
      return Uint8Array.from([
        ...binary.subarray(0, at), 5, ...encodeLeb(section.length), ...section, ...binary.subarray(body + size),
      ]);
    }
    at = body + size;
  }
  throw new Error('withMemoryMaximum: the module defines no memory');
}
