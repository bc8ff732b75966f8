// Sending a file to many clients: conn.sendFile() against a read stream
// piped into conn.toStream() and against reading into a buffer and
// write(), the server's CPU per MiB side by side (servers/nbio-file.mjs,
// client lib/file-client.mjs).
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLK_TCK, cpuTicks, runLoadgen, startServer, systemTicks } from './procs.mjs';
import { median } from './report.mjs';

const SERVER = fileURLToPath(new URL('../servers/nbio-file.mjs', import.meta.url));
const CLIENT = fileURLToPath(new URL('./file-client.mjs', import.meta.url));
export const FILE_MODES = ['sendfile', 'pipe', 'write'];
const MiB = 1 << 20;

/** Writes `size` random bytes to a new file in a temporary directory; returns its path and a remover. */
function makeFile(size) {
  const dir = mkdtempSync(join(tmpdir(), 'nbio-bench-file-'));
  const path = join(dir, 'payload');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(MiB);
  for (let at = 0; at < size; at += MiB) writeSync(fd, randomFillSync(chunk), 0, Math.min(MiB, size - at));
  closeSync(fd);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the client (lib/file-client.mjs) to its end; resolves with its { bytes, ms }, rejects if it failed. */
async function runClient(port, conns, bytes, cpu) {
  const r = await runLoadgen(process.execPath, [CLIENT, String(port), String(conns), String(bytes)], { cpu }).done;
  if (r.code !== 0 || r.result === null) throw new Error(`file client failed (exit ${r.signal ?? r.code}): ${r.stderr.trim()}`);
  return r.result;
}

/**
 * Sends a file of `size` bytes to `conns` clients at once, `reps` times
 * for each mode (order rotated every repetition), a fresh server each
 * time. Server CPU (utime + stime, /proc) is counted from before the
 * clients connect until the last one has read its end. Returns the runs:
 * { mode, rep, cpu_us_per_mib, mib_per_s, other_cpu_pct }.
 */
export async function measureFileSends({ pin, reps, size = 64 * MiB, conns = 10, log = () => {} }) {
  const file = makeFile(size);
  const runs = [];
  try {
    for (let rep = 0; rep < reps; rep++) {
      const k = rep % FILE_MODES.length;
      for (const mode of [...FILE_MODES.slice(k), ...FILE_MODES.slice(0, k)]) {
        const server = await startServer(`file-${mode}`, [process.execPath, SERVER, mode, file.path], { cpu: pin?.server ?? null });
        try {
          const t0 = process.hrtime.bigint();
          const sys0 = systemTicks();
          const self0 = cpuTicks(process.pid);
          const cpu0 = cpuTicks(server.pid);
          const client = await runClient(server.port, conns, size, pin?.loadgen ?? null);
          const cpu1 = cpuTicks(server.pid);
          const wallTicks = (Number(process.hrtime.bigint() - t0) / 1e9) * CLK_TCK;
          const other = systemTicks().task - sys0.task - (cpu1 - cpu0) - (cpuTicks(process.pid) - self0);
          const mib = client.bytes / MiB;
          const run = {
            mode, rep,
            cpu_us_per_mib: ((cpu1 - cpu0) * 1e6) / CLK_TCK / mib,
            mib_per_s: mib / (client.ms / 1000),
            // The client's own CPU is in `other` here (it has exited): an upper bound.
            other_cpu_pct: Math.max(0, (100 * other) / wallTicks),
          };
          log(run);
          runs.push(run);
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    file.remove();
  }
  return runs;
}

/** The markdown section of the file runs: medians per mode, and each against sendFile. */
export function fileMarkdown(runs, { size = 64 * MiB, conns = 10 } = {}) {
  const rows = FILE_MODES.map((mode) => {
    const rs = runs.filter((r) => r.mode === mode);
    return { mode, n: rs.length, cpu: median(rs.map((r) => r.cpu_us_per_mib)), rate: median(rs.map((r) => r.mib_per_s)), other: median(rs.map((r) => r.other_cpu_pct)) };
  }).filter((r) => r.n > 0);
  const base = rows.find((r) => r.mode === 'sendfile');
  const lines = [`## Sending a ${size / MiB} MiB file to ${conns} clients at once`, ''];
  lines.push('| way | runs | server CPU µs/MiB | ÷ sendFile | MiB/s (all clients) | other CPU % (incl. client) |');
  lines.push('|---|---|---|---|---|---|');
  const name = { sendfile: '`conn.sendFile(path)`', pipe: '`createReadStream(path).pipe(conn.toStream())`', write: '`readSync` 256 KiB + `conn.write()`' };
  for (const r of rows) {
    lines.push(`| ${name[r.mode]} | ${r.n} | ${r.cpu.toFixed(0)} | ${base ? (r.cpu / base.cpu).toFixed(2) + '×' : '–'} | ${r.rate.toFixed(0)} | ${r.other.toFixed(0)} |`);
  }
  lines.push('', 'Server CPU from before the clients connect until the last has read its end (/proc, 10 ms ticks), per MiB sent; a fresh server per run (bench/servers/nbio-file.mjs), the file in the page cache.', '');
  return lines.join('\n');
}
