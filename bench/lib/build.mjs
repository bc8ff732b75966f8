// Compiles the C load generator and the C reference echo server into bench/bin.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const BIN_DIR = join(BENCH_DIR, 'bin');

const PROGRAMS = ['loadgen', 'echo-server'];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * Builds bench/bin/loadgen and bench/bin/echo-server with `cc -O2 -Wall` when a
 * binary is missing or older than its source. Throws a readable error if cc is
 * missing or a compile fails. Returns the absolute paths of both binaries.
 * @returns {{ loadgen: string, echoServer: string }}
 */
export function buildNative() {
  mkdirSync(BIN_DIR, { recursive: true });
  const paths = {};
  for (const name of PROGRAMS) {
    const src = join(BENCH_DIR, `${name}.c`);
    const out = join(BIN_DIR, name);
    paths[name] = out;
    if (mtime(out) >= mtime(src)) continue;
    // Compile to a private name and rename, so a concurrent reader never sees
    // a half-written binary.
    const tmp = `${out}.${process.pid}.tmp`;
    const r = spawnSync('cc', ['-O2', '-Wall', '-o', tmp, src], { encoding: 'utf8' });
    if (r.error?.code === 'ENOENT') {
      throw new Error('bench: `cc` not found; install a C compiler (e.g. apt-get install gcc) to build bench/*.c');
    }
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`bench: compiling ${src} failed:\n${r.stderr}`);
    renameSync(tmp, out);
  }
  return { loadgen: paths.loadgen, echoServer: paths['echo-server'] };
}
