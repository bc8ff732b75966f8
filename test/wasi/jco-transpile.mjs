// Transpiles a component with jco into a directory Node can import from
// (used by the WASI library test host and the bench's in-process jco
// server).
import { transpile } from '@bytecodealliance/jco';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Transpiles `component` (a .wasm file) as `name` into `outDir` (an ES
 * module package whose WASI imports resolve to this project's
 * preview2-shim) and imports it. Returns the module's exports.
 */
export async function importComponent(component, outDir, name) {
  const { files } = await transpile(readFileSync(component), { name, quiet: true, noTypescript: true });
  for (const [file, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(outDir, file)), { recursive: true });
    writeFileSync(join(outDir, file), bytes);
  }
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  if (!existsSync(join(outDir, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  return import(pathToFileURL(join(outDir, `${name}.js`)).href);
}
