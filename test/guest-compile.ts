// Compiles an AssemblyScript harness (test/assembly/*.ts) in memory with the
// same runtime and flags as the reactor, and instantiates it.
import asc from 'assemblyscript/asc';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function compileHarness(file: string): Promise<WebAssembly.Instance> {
  let binary: Uint8Array | undefined;
  const errors: string[] = [];
  const { error } = await asc.main(
    // An explicit config: otherwise asc picks up the root asconfig.json and
    // compiles the reactor's entry too.
    [join(root, 'test', 'assembly', file), '--config', join(root, 'test', 'assembly', 'asconfig.json'),
      '--outFile', 'harness.wasm'],
    {
      writeFile(name: string, contents: Uint8Array | string) {
        if (name.endsWith('.wasm')) binary = contents as Uint8Array;
      },
      stdout: { write: () => true } as any,
      stderr: { write: (s: string) => { errors.push(String(s)); return true; } } as any,
    },
  );
  if (error || !binary) throw new Error(`asc failed for ${file}: ${error?.message}\n${errors.join('')}`);
  const mod = new WebAssembly.Module(binary);
  const imports = WebAssembly.Module.imports(mod);
  if (imports.length) throw new Error(`${file}: harness must not import anything: ${JSON.stringify(imports)}`);
  return new WebAssembly.Instance(mod, {});
}
