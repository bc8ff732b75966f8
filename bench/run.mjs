#!/usr/bin/env node
// Echo benchmark harness: nbio-wasm (JavaScript handler and echo plugin) vs
// node:net vs C epoll and io_uring servers, then in-process plugin host measurements.
// Writes results/latest.{md,json} and the README's chart, results/chart.svg.
// See bench/README.md. Usage:
//   node bench/run.mjs [--quick] [--scenarios 50x64,churn] [--servers nbio,nbio-et,net,c,c-uring,wasi-wasmtime,wasi-jco]
//                      [--reps N] [--secs S] [--warmup S] [--idle-conns N] [--poll-secs S] [--out DIR] [--compare DIR]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, buildNative } from './lib/build.mjs';
import { SCENARIOS, SERVER_SCENARIOS, measureIdle, measureThroughput, serverCommands } from './lib/measure.mjs';
import { pollCountingUnavailable } from './lib/poll-count.mjs';
import { fileMarkdown, measureFileSends } from './lib/file-send.mjs';
import { measurePlugins, pluginMarkdown } from './lib/plugin-micro.mjs';
import { prepareWasmtime } from '../test/wasmtime/venv.mjs';
import { chartSvg } from './lib/chart.mjs';
import { machineInfo, markdown, summarize } from './lib/report.mjs';

const IDLE_BASE = 100;
const NOFILE = 20000;

function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(1);
}

function list(value, known, what) {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const it of items) if (!(it in known)) fail(`unknown ${what} "${it}" (known: ${Object.keys(known).join(', ')})`);
  return items;
}

function positive(value, what) {
  const n = Number(value);
  if (!(n > 0)) fail(`--${what} must be a positive number, got "${value}"`);
  return n;
}

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scenarios: { type: 'string' },
    servers: { type: 'string' },
    reps: { type: 'string' },
    secs: { type: 'string' },
    warmup: { type: 'string' },
    'idle-conns': { type: 'string' },
    'poll-secs': { type: 'string' },
    out: { type: 'string' },
    compare: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  console.log(
    'node bench/run.mjs [--quick] [--scenarios a,b] [--servers nbio,nbio-et,net,c,c-uring,wasi-wasmtime,wasi-jco] [--reps N] [--secs S] [--warmup S] [--idle-conns N] [--poll-secs S] [--out DIR] [--compare DIR]',
  );
  process.exit(0);
}

const bins = (() => {
  try {
    return buildNative();
  } catch (err) {
    return fail(err.message);
  }
})();
if (bins.uringSkip) console.error(`bench: no c-uring server: ${bins.uringSkip}`);
const wasmtime = prepareWasmtime(join(BENCH_DIR, '..'));
if ('skip' in wasmtime) console.error(`bench: no wasi-wasmtime server: ${wasmtime.skip}`);
if (opt.compare && !existsSync(join(opt.compare, 'dist', 'host', 'index.js'))) {
  fail(`--compare ${opt.compare}: no built checkout there (run npm ci in it first)`);
}
const commands = serverCommands(bins, wasmtime.python ?? null, opt.compare ?? null);

const config = {
  quick: opt.quick,
  scenarios: opt.scenarios ? list(opt.scenarios, SCENARIOS, 'scenario') : Object.keys(SCENARIOS),
  servers: opt.servers
    ? list(opt.servers, commands, 'server')
    : ['nbio', 'nbio-et', 'nbio-p2-reuseport', 'nbio@compare', 'nbio-plugin', 'net', 'c', 'c-uring', 'wasi-wasmtime', 'wasi-jco']
      .filter((s) => s in commands),
  reps: opt.reps ? Math.round(positive(opt.reps, 'reps')) : opt.quick ? 1 : 3,
  warmup: opt.warmup ? positive(opt.warmup, 'warmup') : opt.quick ? 0.5 : 1,
  secs: opt.secs ? positive(opt.secs, 'secs') : opt.quick ? 1.5 : 5,
  poll_secs: opt['poll-secs'] ? positive(opt['poll-secs'], 'poll-secs') : opt.quick ? 1 : 2,
  idle_conns: opt['idle-conns'] ? Math.round(positive(opt['idle-conns'], 'idle-conns')) : opt.quick ? 2000 : 15000,
  units: Object.fromEntries(Object.entries(SCENARIOS).map(([k, v]) => [k, v.unit])),
  compare: opt.compare ?? null,
};
if (config.idle_conns <= IDLE_BASE) fail(`--idle-conns must be more than ${IDLE_BASE}`);
if (config.idle_conns + 100 > NOFILE) fail(`--idle-conns must stay below ${NOFILE - 100} (server runs under ulimit -n ${NOFILE})`);

const pinned = os.availableParallelism() >= 2;
const pin = pinned ? { server: 0, loadgen: 1 } : null;
const machine = machineInfo({ pinned });
if (!pinned) console.error('bench: fewer than 2 CPUs: server and loadgen run unpinned (noted in the report)');

const pollsSkip = pollCountingUnavailable();
if (pollsSkip) console.error(`bench: polls per message not counted: ${pollsSkip}`);
config.polls_skip = pollsSkip;

const startedAt = new Date();
const runs = [];
const pollRuns = [];
for (const scenarioName of config.scenarios) {
  const scenario = SCENARIOS[scenarioName];
  if (scenario.file) continue; // not an echo: below
  for (let rep = 0; rep < config.reps; rep++) {
    // Rotate the server order every repetition so slow drifts hit everyone.
    // A scenario may run a variant of the engine in place of `nbio` (the
    // plugin echo and the compared checkout run one poller: they have no
    // place in a scenario about a variant), or only servers of its own in
    // place of some (`only`).
    const servers = config.servers
      .filter((s) => !((s === 'nbio-plugin' || s === 'nbio@compare') && scenario.nbio))
      .map((s) => (s === 'nbio' && scenario.nbio ? scenario.nbio : s))
      .filter((s) => scenario.only === undefined || s in scenario.only || Object.values(scenario.only).includes(s))
      .map((s) => scenario.only?.[s] ?? s)
      .filter((s) => SERVER_SCENARIOS[s]?.includes(scenarioName) ?? true);
    const k = rep % servers.length;
    const order = [...servers.slice(k), ...servers.slice(0, k)];
    for (const [position, server] of order.entries()) {
      const common = { serverName: server, serverArgv: commands[server], loadgen: bins.loadgen, pin };
      process.stderr.write(`bench: ${scenarioName} rep ${rep + 1}/${config.reps} ${server} ... `);
      let r;
      try {
        r = scenario.idle
          ? await measureIdle({ ...common, base: IDLE_BASE, total: config.idle_conns, nofile: NOFILE })
          : await measureThroughput({ ...common, scenario, warmup: config.warmup, secs: config.secs });
      } catch (err) {
        process.stderr.write('FAILED\n');
        fail(err.message);
      }
      process.stderr.write(
        scenario.idle
          ? `${Math.round(r.rate)} B/conn\n`
          : `${Math.round(r.rate)} ${scenario.unit}, ${r.server_cpu_us_per_rt?.toFixed(2)} µs CPU/op, other ${r.other_cpu_pct.toFixed(0)}%` +
            (r.loadgen.starved === undefined ? '\n'
              : `, per conn ${r.loadgen.per_conn_min}/${Math.round(r.loadgen.per_conn_mean)}/${r.loadgen.per_conn_max}, starved ${r.loadgen.starved}\n`),
      );
      runs.push({ scenario: scenarioName, server, rep, position, ...r });
    }
  }
  // Polls per message: one counted run per server after the timed ones
  // (perf's tracepoints slow syscalls, so its times are not used).
  if (scenario.idle || pollsSkip) continue;
  for (const server of new Set(runs.filter((r) => r.scenario === scenarioName).map((r) => r.server))) {
    process.stderr.write(`bench: ${scenarioName} polls ${server} ... `);
    let r;
    try {
      r = await measureThroughput({
        serverName: server, serverArgv: commands[server], loadgen: bins.loadgen, pin,
        scenario, warmup: config.warmup, secs: config.poll_secs, polls: true,
      });
    } catch (err) {
      process.stderr.write('FAILED\n');
      fail(err.message);
    }
    process.stderr.write(`${r.polls_per_rt?.toFixed(3)} polls/op\n`);
    pollRuns.push({ scenario: scenarioName, server, polls_per_rt: r.polls_per_rt });
  }
}

let fileRuns = [];
if (config.scenarios.includes('file')) {
  fileRuns = await measureFileSends({
    pin, reps: config.reps,
    log: (r) => process.stderr.write(`bench: file ${r.mode} rep ${r.rep + 1}/${config.reps}: ${r.cpu_us_per_mib.toFixed(0)} µs CPU/MiB, other ${r.other_cpu_pct.toFixed(0)}%\n`),
  }).catch((err) => fail(err.message));
}

process.stderr.write('bench: plugin host, in process ... ');
const plugins = await measurePlugins({ quick: config.quick });
process.stderr.write('done\n');

const elapsedS = (Date.now() - startedAt.getTime()) / 1000;
const summary = summarize(runs, pollRuns);
const md = markdown({ machine, config, summary, startedAt: startedAt.toISOString(), elapsedS }) + '\n' +
  (fileRuns.length ? fileMarkdown(fileRuns) + '\n' : '') + pluginMarkdown(plugins);
const json = { started_at: startedAt.toISOString(), elapsed_s: elapsedS, machine, config, summary, runs, poll_runs: pollRuns, file_runs: fileRuns, plugins };

const outDir = opt.out ?? join(BENCH_DIR, 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.md'), md);
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
writeFileSync(join(outDir, 'chart.svg'), chartSvg(json));
process.stdout.write(md);
console.error(`bench: wrote ${join(outDir, 'latest.md')}, latest.json and chart.svg`);
