// One measurement: a fresh server, one load-generator run, /proc samples
// taken exactly at the load generator's MEASURE_START / MEASURE_END markers.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmtimeCommand } from '../../test/wasmtime/venv.mjs';
import { countPolls } from './poll-count.mjs';
import { CLK_TCK, cpuTicks, cpuTimes, holdIdle, rssBytes, runLoadgen, sleep, startServer, systemTicks } from './procs.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The HTTP load generator (autocannon), run by node like loadgen.c is run. */
const HTTP_LOAD = fileURLToPath(new URL('./http-load.mjs', import.meta.url));

/**
 * The servers, as argv (the port is appended when started, unless the argv
 * ends with an address). `wasmtime` is the venv's python with wasmtime-py
 * (test/wasmtime/venv.mjs), or null: then there is no `wasi-wasmtime`; without
 * `bins.uringEchoServer` (no liburing or no io_uring here) there is no `c-uring`.
 * `compare` is another checkout of this repository (built), whose engine
 * runs as `nbio@compare` beside this one's.
 *
 * @param {{ [name: string]: string | null }} bins
 * @param {string | null} [wasmtime]
 * @param {string | null} [compare]
 * @returns {{ [name: string]: string[] }}
 */
export function serverCommands(bins, wasmtime = null, compare = null) {
  const nbioEcho = (...flags) => [process.execPath, '--expose-gc', new URL('../servers/nbio-echo.mjs', import.meta.url).pathname, ...flags];
  return {
    nbio: nbioEcho(),
    'nbio-et': nbioEcho('--et'),
    'nbio-p2': nbioEcho('--pollers=2'),
    'nbio-p2-reuseport': nbioEcho('--pollers=2', '--lb=reuseport'),
    'nbio-plugin': nbioEcho('--plugin'),
    ...(compare && { 'nbio@compare': [process.execPath, '--expose-gc', join(compare, 'bench', 'servers', 'nbio-echo.mjs')] }),
    net: [process.execPath, '--expose-gc', new URL('../servers/net-echo.mjs', import.meta.url).pathname],
    c: [bins.echoServer],
    ...(bins.uringEchoServer && { 'c-uring': [bins.uringEchoServer] }),
    ...(wasmtime && {
      'wasi-wasmtime': wasmtimeCommand(wasmtime, ROOT, join(ROOT, 'dist', 'wasm', 'echo-server.wasm'), ['127.0.0.1:0']),
    }),
    'wasi-jco': [process.execPath, new URL('../servers/wasi-jco-echo.mjs', import.meta.url).pathname],
    'http-nbio': [process.execPath, '--expose-gc', new URL('../servers/http-nbio.mjs', import.meta.url).pathname],
    'http-node': [process.execPath, '--expose-gc', new URL('../servers/http-node.mjs', import.meta.url).pathname],
  };
}

/**
 * Scenarios a server runs in, where not all: the edge-triggered engine
 * runs the echo scenarios beside the level-triggered one (not the idle
 * count, which epoll's mode does not change); the two pollers spread by
 * SO_REUSEPORT run beside the default (round-robin from an acceptor) in
 * the two-poller scenario; the WASI servers skip the idle count (15,000
 * connections in one wasi:io/poll list make every accept O(n)) and the
 * two-poller scenario (not theirs); jco, whose every WASI call is a round
 * trip to another thread, runs only the 50x64 and 4 MiB scenarios, for
 * correctness and an order of magnitude. The HTTP servers run only the
 * HTTP scenario.
 */
export const SERVER_SCENARIOS = {
  'nbio-et': ['50x64', '1x64', '50x16k', '1000x64', 'churn', '1x4m'],
  'nbio-p2-reuseport': ['50x64-p2'],
  'wasi-wasmtime': ['50x64', '1x64', '50x16k', '1000x64', 'churn', '1x4m'],
  'wasi-jco': ['50x64', '1x4m'],
  'http-nbio': ['http'],
  'http-node': ['http'],
};

/**
 * Throughput scenarios: loadgen arguments. Churn counts one round trip per
 * connection (connect, one echo, close by reset: see README, "churn").
 * `50x64-p2` is 50x64 with the engine running two pollers (`nbio-p2`, in
 * place of `nbio`). `1x4m` is the seed's 4 MiB echo, repeated: one
 * connection, 4 MiB messages. `http` is HTTP/1.1 keep-alive, autocannon
 * (lib/http-load.mjs) against `http.Server` on nbio-wasm (`http-nbio`, in
 * place of `nbio`) and plain `http.createServer` (`http-node`, in place of
 * `net`); no other server runs it. `file` is not an echo: a 64 MiB file
 * sent to 10 clients three ways (lib/file-send.mjs), run after the others.
 */
export const SCENARIOS = {
  '50x64': { args: ['-c', '50', '-s', '64'], unit: 'rt/s' },
  '1x64': { args: ['-c', '1', '-s', '64'], unit: 'rt/s' },
  '50x16k': { args: ['-c', '50', '-s', '16384'], unit: 'rt/s' },
  '1000x64': { args: ['-c', '1000', '-s', '64'], unit: 'rt/s' },
  churn: { args: ['-m', 'churn', '-c', '8', '-s', '64', '-r'], unit: 'conns/s' },
  '50x64-p2': { args: ['-c', '50', '-s', '64'], unit: 'rt/s', nbio: 'nbio-p2' },
  '1x4m': { args: ['-c', '1', '-s', String(4 << 20)], unit: 'rt/s' },
  http: { args: ['-c', '50'], unit: 'req/s', http: true, only: { nbio: 'http-nbio', net: 'http-node' } },
  idle: { idle: true, unit: 'bytes/conn' },
  file: { file: true, unit: 'µs CPU/MiB' },
};

function sample(pids) {
  return {
    t: process.hrtime.bigint(),
    sys: systemTicks(),
    self: cpuTicks(process.pid),
    procs: pids.map((pid) => cpuTicks(pid)),
    server: cpuTimes(pids[0]),
  };
}

/**
 * Runs one throughput measurement. `pin` is { server, loadgen } CPU numbers or
 * null; `nofile` (optional) raises the server's descriptor limit. With
 * `polls`, the run is a counted one (its times are not to be used: perf's
 * tracepoints slow every syscall): the result's `polls_per_rt` is the
 * server's epoll_wait/epoll_pwait calls in the measured window per round
 * trip (lib/poll-count.mjs), null if perf failed. Throws if
 * the server fails to start, the load generator fails (non-zero exit: wrong
 * echoes, connection errors) or the server dies.
 *
 * @param {{ serverName: string, serverArgv: string[], loadgen: string, scenario: { args: string[] },
 *   warmup: number, secs: number, pin: { server: number, loadgen: number } | null, nofile?: number | null,
 *   polls?: boolean }} options
 */
export async function measureThroughput({ serverName, serverArgv, loadgen, scenario, warmup, secs, pin, nofile = null, polls = false }) {
  const server = await startServer(serverName, serverArgv, { cpu: pin?.server ?? null, nofile });
  const pollCounter = polls ? countPolls(server.pid) : null;
  // Only the Node servers report their heap (bench/servers/heap-report.mjs).
  const heap = serverArgv[0] === process.execPath ? server.heap : () => null;
  try {
    let s0 = null;
    let s1 = null;
    let heap0 = null;
    let heap1 = null;
    const [generator, ...generatorArgs] = scenario.http ? [process.execPath, HTTP_LOAD] : [loadgen];
    const run = runLoadgen(
      generator,
      [...generatorArgs, '-p', String(server.port), '-w', String(warmup), '-d', String(secs), ...scenario.args],
      {
        cpu: pin?.loadgen ?? null,
        on: {
          MEASURE_START: (_, pid) => {
            pollCounter?.enable();
            s0 = sample([server.pid, pid]);
            heap0 = heap();
          },
          MEASURE_END: (_, pid) => {
            s1 = sample([server.pid, pid]);
            pollCounter?.disable();
            heap1 = heap();
          },
        },
        timeoutMs: (warmup + secs) * 1000 + 60000,
      },
    );
    const r = await run.done;
    if (r.code !== 0 || !r.result) {
      throw new Error(
        `loadgen against ${serverName} failed (exit ${r.code ?? r.signal}): ${r.stderr.trim() || 'no output'}`,
      );
    }
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`server ${serverName} died during the run:\n${server.stderr().trim()}`);
    }
    if (!s0 || !s1) throw new Error('loadgen did not report its measured window');
    const wallTicks = (Number(s1.t - s0.t) / 1e9) * CLK_TCK;
    const serverTicks = s1.procs[0] - s0.procs[0];
    const loadgenTicks = s1.procs[1] - s0.procs[1];
    const selfTicks = s1.self - s0.self;
    const otherTicks = s1.sys.task - s0.sys.task - serverTicks - loadgenTicks - selfTicks;
    const pct = (ticks) => (100 * ticks) / wallTicks;
    const lg = r.result;
    const perRt = (ticks) => (lg.round_trips > 0 ? (ticks * 1e6) / CLK_TCK / lg.round_trips : null);
    const [h0, h1] = await Promise.all([heap0, heap1]);
    const pollCount = pollCounter ? await pollCounter.stop() : null;
    return {
      polls_per_rt: pollCount !== null && lg.round_trips > 0 ? pollCount / lg.round_trips : null,
      loadgen: lg,
      rate: lg.rt_per_s,
      server_cpu_pct: pct(serverTicks),
      loadgen_cpu_pct: pct(loadgenTicks),
      other_cpu_pct: Math.max(0, pct(otherTicks)),
      irq_cpu_pct: pct(s1.sys.irq - s0.sys.irq),
      server_cpu_us_per_rt: perRt(serverTicks),
      server_user_us_per_rt: perRt(s1.server.user - s0.server.user),
      server_sys_us_per_rt: perRt(s1.server.sys - s0.server.sys),
      // Node servers only: collections and heap growth inside the measured window.
      server_gcs: h0 && h1 ? h1.gcs - h0.gcs : null,
      server_gc_ms: h0 && h1 ? h1.gc_ms - h0.gc_ms : null,
      server_heap_growth: h0 && h1 ? h1.heap_used - h0.heap_used : null,
    };
  } finally {
    await pollCounter?.stop();
    await server.stop();
  }
}

/** Connections of the idle scenario's warm-up round. */
export const WARMUP_CONNS = 1000;

/**
 * Server RSS per idle connection: RSS before any connection, with `base` idle
 * connections, and with `total` (a second load generator adds total - base).
 * First a warm-up round opens WARMUP_CONNS connections (one echo each) and
 * closes them again, so that the code paths are compiled (JIT) before RSS is
 * read; it is kept small so that memory the servers grow for many
 * connections is still counted. Before each reading the server is sent SIGUSR2, on
 * which the Node servers run a full garbage collection (the C server ignores
 * it), so RSS reflects live memory. The server runs under `ulimit -n nofile`.
 */

export async function measureIdle({ serverName, serverArgv, loadgen, base, total, pin, nofile, settleMs = 1000 }) {
  const server = await startServer(serverName, serverArgv, { cpu: pin?.server ?? null, nofile });
  const holders = [];
  let failed = true;
  try {
    const settledRss = async () => {
      process.kill(server.pid, 'SIGUSR2');
      await sleep(settleMs);
      return rssBytes(server.pid);
    };
    const rssBefore = await settledRss();
    const cpu = pin?.loadgen ?? null;
    const warmup = await holdIdle(loadgen, ['-p', String(server.port), '-c', String(WARMUP_CONNS), '-e', '1'], { cpu });
    const warmed = await warmup.finish();
    if (warmed.code !== 0) throw new Error(`idle warm-up against ${serverName} failed (exit ${warmed.code}): ${warmed.stderr.trim()}`);
    await sleep(settleMs);
    holders.push(await holdIdle(loadgen, ['-p', String(server.port), '-c', String(base), '-e', '1'], { cpu }));
    const rssBase = await settledRss();
    holders.push(await holdIdle(loadgen, ['-p', String(server.port), '-c', String(total - base), '-e', '1'], { cpu }));
    const rssTotal = await settledRss();
    const open = holders[0].n + holders[1].n;
    if (open !== total) throw new Error(`only ${open} of ${total} idle connections opened`);
    failed = false;
    return {
      conns_base: base,
      conns_total: total,
      rss_before: rssBefore,
      rss_base: rssBase,
      rss_total: rssTotal,
      rate: (rssTotal - rssBase) / (total - base),
    };
  } finally {
    const results = await Promise.all(holders.map((h) => h.finish()));
    await server.stop();
    for (const r of failed ? [] : results) {
      if (r.code !== 0 || r.result?.bad || r.result?.errors) {
        throw new Error(`idle loadgen against ${serverName} failed (exit ${r.code}): ${r.stderr.trim()}`);
      }
    }
  }
}
