// Compiles the C load generator and the C reference echo servers into bench/bin.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const BIN_DIR = join(BENCH_DIR, 'bin');

/**
 * The programs, with the C files of bench/ each is compiled from besides
 * NAME.c, the headers of bench/ it includes and the libraries it links;
 * `optional` ones are left out when they cannot be built here.
 */
const PROGRAMS = [
  { name: 'loadgen', sources: ['loadgen-report.c'], headers: ['loadgen.h'], libs: [] },
  { name: 'echo-server', headers: ['echo-server-common.h'], libs: [] },
  { name: 'uring-echo-server', headers: ['echo-server-common.h'], libs: ['-luring'], optional: uringMissing },
];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * Why the io_uring echo server cannot be built or run here, or null if it can:
 * it needs liburing's header (Debian: liburing-dev) and a kernel that lets
 * this process use io_uring (/proc/sys/kernel/io_uring_disabled 0).
 */
function uringMissing() {
  if (!['/usr/include/liburing.h', '/usr/local/include/liburing.h'].some((p) => existsSync(p))) {
    return 'liburing.h not found (Debian: apt-get install liburing-dev)';
  }
  try {
    const disabled = readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim();
    if (disabled !== '0') return `io_uring is disabled on this kernel (/proc/sys/kernel/io_uring_disabled = ${disabled})`;
  } catch {
    // Kernels before 6.6 have no such switch: io_uring is on unless compiled out.
  }
  return null;
}

function compile(srcs, out, libs) {
  // Compile to a private name and rename, so a concurrent reader never sees
  // a half-written binary.
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', tmp, ...srcs, ...libs], { encoding: 'utf8' });
  if (r.error?.code === 'ENOENT') {
    throw new Error('bench: `cc` not found; install a C compiler (e.g. apt-get install gcc) to build bench/*.c');
  }
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`bench: compiling ${srcs.join(' ')} failed:\n${r.stderr}`);
  renameSync(tmp, out);
}

/**
 * Builds bench/bin/loadgen, bench/bin/echo-server and, where liburing and
 * io_uring are available, bench/bin/uring-echo-server with `cc -O2 -Wall`
 * when a binary is missing or older than its source or a header it includes. Throws a readable error
 * if cc is missing or a compile fails. Returns the absolute paths of the
 * binaries; `uringEchoServer` is null when it cannot be had here, and
 * `uringSkip` then says why.
 * @returns {{ loadgen: string, echoServer: string, uringEchoServer: string | null, uringSkip: string | null }}
 */
export function buildNative() {
  mkdirSync(BIN_DIR, { recursive: true });
  const paths = {};
  const skipped = {};
  for (const { name, sources = [], headers, libs, optional } of PROGRAMS) {
    const reason = optional?.() ?? null;
    if (reason) {
      paths[name] = null;
      skipped[name] = reason;
      continue;
    }
    const srcs = [`${name}.c`, ...sources].map((file) => join(BENCH_DIR, file));
    const out = join(BIN_DIR, name);
    paths[name] = out;
    const newest = Math.max(...srcs.map(mtime), ...headers.map((h) => mtime(join(BENCH_DIR, h))));
    if (mtime(out) < newest) compile(srcs, out, libs);
  }
  return {
    loadgen: paths.loadgen,
    echoServer: paths['echo-server'],
    uringEchoServer: paths['uring-echo-server'],
    uringSkip: skipped['uring-echo-server'] ?? null,
  };
}
