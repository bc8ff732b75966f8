// Starting/stopping benchmark processes and sampling /proc.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Clock ticks per second for /proc times (USER_HZ). */
export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** utime and stime of a process (all its threads), in clock ticks. */
export function cpuTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), sys: Number(fields[12]) }; // fields 14 and 15 of proc(5)
}

/** utime + stime of a process (all its threads), in clock ticks. */
export function cpuTicks(pid) {
  const { user, sys } = cpuTimes(pid);
  return user + sys;
}

/** VmRSS of a process in bytes. */
export function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Machine-wide CPU counters from the first line of /proc/stat, in ticks. */
export function systemTicks() {
  const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq] = v.map(Number);
  return { task: user + nice + system, irq: irq + softirq };
}

/**
 * Prefix for a command: pinned to `cpu` with taskset (when cpu is not null),
 * optionally under `ulimit -n nofile`. Each wrapper execs, so the pid of the
 * spawned process is the pid of the final program.
 */
export function wrap(argv, { cpu = null, nofile = null } = {}) {
  let cmd = argv;
  if (cpu !== null) cmd = ['taskset', '-c', String(cpu), ...cmd];
  if (nofile !== null) cmd = ['bash', '-c', `ulimit -n ${nofile} && exec "$@"`, 'bash', ...cmd];
  return cmd;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function keepTail(stream) {
  let tail = '';
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    tail = (tail + d).slice(-4000);
  });
  return () => tail;
}

/** Every child we spawned and did not see exit; killed on process exit. */
const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function track(child) {
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', r));
}

/** Sends SIGTERM, waits up to `ms`, then SIGKILL. Resolves with the exit code (or null). */
export async function terminate(child, ms = 5000) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    await exited(child);
    clearTimeout(timer);
  }
  return child.exitCode;
}

/**
 * Starts an echo server (argv gets the port `0` appended, unless it already
 * ends with an address `host:port`) and waits for its `LISTENING <port>`
 * line (or, from the WASI servers, `listening HOST:PORT`). Throws, with the
 * server's stderr, if it exits or is not listening within `timeoutMs`.
 * @returns {Promise<{ child: import('node:child_process').ChildProcess, pid: number, port: number, stderr: () => string, stop: () => Promise<number|null> }>}
 */
export async function startServer(name, argv, { cpu = null, nofile = null, timeoutMs = 15000 } = {}) {
  const hasAddress = /:\d+$/.test(argv.at(-1));
  const [cmd, ...args] = wrap(hasAddress ? argv : [...argv, '0'], { cpu, nofile });
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const stderr = keepTail(child.stderr);
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error('timed out waiting for LISTENING')), timeoutMs);
    const lines = createInterface({ input: child.stdout });
    function done(err, value) {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', done);
      lines.off('line', onLine);
      if (err) reject(err);
      else resolve(value);
    }
    function onLine(line) {
      const m = /^(?:LISTENING |listening \S+:)(\d+)$/.exec(line.trim());
      if (m) done(null, Number(m[1]));
    }
    function onExit(code, sig) {
      done(new Error(`exited (${sig ?? `code ${code}`}) before LISTENING`));
    }
    lines.on('line', onLine);
    child.on('exit', onExit);
    child.on('error', done);
  }).catch(async (err) => {
    await terminate(child, 1000);
    const tail = stderr().trim();
    throw new Error(`server ${name} (${argv.join(' ')}) failed to start: ${err.message}${tail ? `\n${tail}` : ''}`);
  });
  return { child, pid: child.pid, port, stderr, stop: () => terminate(child), heap: heapReporter(child) };
}

/**
 * Asks a Node server for its heap activity: SIGWINCH makes it print
 * `HEAP <gc count> <gc ms> <heap used bytes>` (bench/servers/heap-report.mjs).
 * Returns a function that sends the signal and resolves with the next such
 * line, parsed (null if the server does not answer within 2 s: not a Node
 * server, or one without the report).
 */
function heapReporter(child) {
  const waiting = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = /^HEAP (\d+) ([\d.]+) (\d+)$/.exec(line.trim());
    if (m) waiting.shift()?.({ gcs: Number(m[1]), gc_ms: Number(m[2]), heap_used: Number(m[3]) });
  });
  return () =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(answer), 1);
        resolve(null);
      }, 2000);
      const answer = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
      waiting.push(answer);
      child.kill('SIGWINCH');
    });
}

/**
 * Runs the load generator to completion. `on` maps an stdout marker line
 * (`MEASURE_START`, `MEASURE_END`, `READY`) to a synchronous callback, called
 * as soon as the line arrives. Resolves with the exit code, parsed JSON result
 * (or null) and stderr; never rejects on a non-zero exit (callers decide).
 */
export function runLoadgen(bin, args, { cpu = null, on = {}, timeoutMs = 120000 } = {}) {
  const [cmd, ...rest] = wrap([bin, ...args], { cpu });
  const child = track(spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const stderr = keepTail(child.stderr);
  let result = null;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line.startsWith('{')) result = JSON.parse(line);
    else on[line.split(' ')[0]]?.(line, child.pid);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'close' (not 'exit') so the last stdout line has been parsed.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, result, stderr: stderr() });
    });
  });
  return { child, pid: child.pid, done };
}

/**
 * Starts an idle-mode load generator and resolves once it printed `READY <n>`.
 * The caller ends it with `finish()` (SIGTERM, then waits for its JSON).
 */
export async function holdIdle(bin, args, { cpu = null, timeoutMs = 60000 } = {}) {
  let ready;
  const readyP = new Promise((r) => (ready = r));
  const run = runLoadgen(bin, ['-m', 'idle', ...args], { cpu, on: { READY: (line) => ready(Number(line.split(' ')[1])) } });
  let timer;
  const failed = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('idle loadgen: timed out waiting for READY')), timeoutMs);
    run.done.then((r) => reject(new Error(`idle loadgen exited before READY (code ${r.code}): ${r.stderr.trim()}`)), reject);
  });
  failed.catch(() => {});
  try {
    const n = await Promise.race([readyP, failed]);
    return {
      n,
      pid: run.pid,
      finish: async () => {
        run.child.kill('SIGTERM');
        return run.done;
      },
    };
  } catch (err) {
    run.child.kill('SIGKILL');
    await run.done;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export { sleep };
