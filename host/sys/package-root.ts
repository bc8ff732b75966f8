/**
 * Where the package's files are on disk: the directory that holds its
 * package.json and the native shim's sources.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding nbio-wasm's package.json and sources. Built
 * artifacts (the Wasm reactor, the native shim) are found relative to it, so
 * the same code works from the TypeScript sources and from the compiled
 * `dist/` tree (which holds no host/sys/native/binding.gyp).
 */
export const packageRoot: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'host', 'sys', 'native', 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) throw new Error(`nbio-wasm: package root not found above ${start}`);
  }
}
