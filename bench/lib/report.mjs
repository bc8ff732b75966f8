// Summaries and the markdown report.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function median(xs) {
  const v = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function machineInfo({ pinned }) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpu_model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    cores: os.availableParallelism(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavg_at_start: os.loadavg().map((x) => Number(x.toFixed(2))),
    pinning: pinned ? 'servers on CPU 0, loadgen on CPU 1 (taskset)' : 'unpinned (fewer than 2 CPUs)',
  };
}

/**
 * Per scenario and server: medians and ranges over the repetitions, and
 * the polls per message of the counted run (`pollRuns`: { scenario, server,
 * polls_per_rt }), where there was one.
 */
export function summarize(runs, pollRuns = []) {
  const groups = new Map();
  for (const r of runs) {
    const key = `${r.scenario}\u0000${r.server}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const out = [];
  for (const rs of groups.values()) {
    const { scenario, server } = rs[0];
    const rates = rs.map((r) => r.rate);
    const s = {
      scenario,
      server,
      runs: rs.length,
      median: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
    };
    if (rs[0].loadgen) {
      s.mean_us = median(rs.map((r) => r.loadgen.mean_us ?? null));
      s.p50_us = median(rs.map((r) => r.loadgen.p50_us));
      s.p99_us = median(rs.map((r) => r.loadgen.p99_us));
      s.p999_us = median(rs.map((r) => r.loadgen.p999_us));
      // Fairness: round trips per connection (each load-generator connection's count).
      s.per_conn_min = median(rs.map((r) => r.loadgen.per_conn_min ?? null));
      s.per_conn_mean = median(rs.map((r) => r.loadgen.per_conn_mean ?? null));
      s.per_conn_max = median(rs.map((r) => r.loadgen.per_conn_max ?? null));
      const starved = rs.map((r) => r.loadgen.starved).filter((x) => x !== undefined);
      s.starved = starved.length ? Math.max(...starved) : null;
      s.cpu_us_per_rt = median(rs.map((r) => r.server_cpu_us_per_rt));
      s.user_us_per_rt = median(rs.map((r) => r.server_user_us_per_rt));
      s.sys_us_per_rt = median(rs.map((r) => r.server_sys_us_per_rt));
      s.gcs = median(rs.map((r) => r.server_gcs ?? null));
      s.heap_growth = median(rs.map((r) => r.server_heap_growth ?? null));
      s.server_cpu_pct = median(rs.map((r) => r.server_cpu_pct));
      s.loadgen_cpu_pct = median(rs.map((r) => r.loadgen_cpu_pct));
      s.other_cpu_pct = median(rs.map((r) => r.other_cpu_pct));
      s.other_cpu_pct_max = Math.max(...rs.map((r) => r.other_cpu_pct));
      s.polls_per_rt = pollRuns.find((p) => p.scenario === scenario && p.server === server)?.polls_per_rt ?? null;
    } else {
      s.rss_before = median(rs.map((r) => r.rss_before));
      s.rss_base = median(rs.map((r) => r.rss_base));
      s.rss_total = median(rs.map((r) => r.rss_total));
      s.conns_base = rs[0].conns_base;
      s.conns_total = rs[0].conns_total;
    }
    out.push(s);
  }
  // Ratios against the baselines, for whichever of them ran in the same scenario.
  for (const s of out) {
    // Everything is also compared with the JavaScript-handler echo (nbio, or
    // the variant a scenario runs in its place: nbio-p2 in 50x64-p2). In the
    // HTTP scenario Node's own baseline is plain http.createServer.
    for (const base of ['net', 'c', 'nbio']) {
      const b = out.find((o) => o.scenario === s.scenario && (
        o.server === base || (base === 'nbio' && /^nbio-p\d+$/.test(o.server)) || (base === 'net' && o.server === 'http-node')));
      if (!b || b === s) continue;
      s[`rate_vs_${base}`] = ratio(s.median, b.median);
      if (s.cpu_us_per_rt !== undefined) s[`cpu_vs_${base}`] = ratio(s.cpu_us_per_rt, b.cpu_us_per_rt);
    }
  }
  return out;
}

function ratio(a, b) {
  return a === null || b === null || b === 0 ? null : a / b;
}

const int = (x) => (x === null || x === undefined ? '–' : Math.round(x).toLocaleString('en-US'));
const fix = (x, d = 1) => (x === null || x === undefined ? '–' : x.toFixed(d));
const times = (x) => (x === null || x === undefined ? '–' : `${x.toFixed(2)}×`);
const mb = (x) => (x === null || x === undefined ? '–' : (x / 1048576).toFixed(1));

export function markdown({ machine, config, summary, startedAt, elapsedS }) {
  const lines = [];
  lines.push('# nbio-wasm echo benchmarks', '');
  lines.push(`- date: ${startedAt} (took ${Math.round(elapsedS)} s)`);
  lines.push(`- machine: ${machine.cpu_model}, ${machine.cores} CPUs, ${machine.kernel}, node ${machine.node}, loadavg at start ${machine.loadavg_at_start.join(' ')}`);
  lines.push(`- pinning: ${machine.pinning}`);
  lines.push(
    `- runs: ${config.reps} rep(s) per scenario and server, server order rotated each rep; ` +
      `${config.warmup} s warm-up + ${config.secs} s measured; a fresh server per run`,
  );
  if (config.compare) lines.push(`- nbio@compare: the \`nbio\` server of the checkout in ${config.compare}`);
  lines.push('');

  const thr = summary.filter((s) => s.cpu_us_per_rt !== undefined);
  if (thr.length) {
    lines.push('## Throughput and latency', '');
    lines.push(
      '| scenario | server | runs | rate median | rate min–max | per conn min / mean / max | starved | p50 µs | p99 µs | p99.9 µs | server CPU µs/op | user µs/op | sys µs/op | polls/op | GCs | heap Δ MB | rate ÷ net | rate ÷ c | rate ÷ nbio | CPU/op ÷ net | CPU/op ÷ c | CPU/op ÷ nbio | other CPU % (max) |',
    );
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const s of thr) {
      const unit = config.units[s.scenario];
      lines.push(
        `| ${s.scenario} | ${s.server} | ${s.runs} | ${int(s.median)} ${unit} | ${int(s.min)}–${int(s.max)} | ` +
          `${int(s.per_conn_min)} / ${int(s.per_conn_mean)} / ${int(s.per_conn_max)} | ${int(s.starved)} | ` +
          `${fix(s.p50_us)} | ${fix(s.p99_us)} | ${fix(s.p999_us)} | ${fix(s.cpu_us_per_rt, 2)} | ` +
          `${fix(s.user_us_per_rt, 2)} | ${fix(s.sys_us_per_rt, 2)} | ${fix(s.polls_per_rt, 3)} | ${fix(s.gcs, 0)} | ${s.heap_growth === null ? '–' : fix(s.heap_growth / 1048576, 2)} | ` +
          `${times(s.rate_vs_net)} | ${times(s.rate_vs_c)} | ${times(s.rate_vs_nbio)} | ${times(s.cpu_vs_net)} | ${times(s.cpu_vs_c)} | ${times(s.cpu_vs_nbio)} | ` +
          `${fix(s.other_cpu_pct, 0)} (${fix(s.other_cpu_pct_max, 0)}) |`,
      );
    }
    lines.push('');
  }

  const plugin = summary.filter((s) => s.server === 'nbio-plugin' && s.rate_vs_nbio !== undefined);
  if (plugin.length) {
    lines.push('## Plugin echo (dist/plugins/echo.wasm) ÷ JavaScript-handler echo (nbio)', '');
    lines.push('| scenario | rate ÷ nbio | CPU/op ÷ nbio |');
    lines.push('|---|---|---|');
    for (const s of plugin) lines.push(`| ${s.scenario} | ${times(s.rate_vs_nbio)} | ${times(s.cpu_vs_nbio)} |`);
    lines.push('');
  }

  const http = summary.filter((s) => s.scenario === 'http');
  if (http.length) {
    lines.push('## HTTP/1.1 keep-alive (autocannon, 50 connections): http.Server on nbio-wasm ÷ http.createServer', '');
    lines.push('| server | requests/s | mean latency ms | p99 ms | server CPU µs/request | rate ÷ http-node | CPU/request ÷ http-node |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const s of http) {
      const ms = (us) => fix(us === null || us === undefined ? null : us / 1000, 2);
      lines.push(
        `| ${s.server} | ${int(s.median)} | ${ms(s.mean_us)} | ${ms(s.p99_us)} | ${fix(s.cpu_us_per_rt, 2)} | ` +
          `${times(s.rate_vs_net)} | ${times(s.cpu_vs_net)} |`,
      );
    }
    lines.push('');
  }

  const idle = summary.filter((s) => s.rss_base !== undefined);
  if (idle.length) {
    const { conns_base: b, conns_total: t } = idle[0];
    lines.push('## Server memory per idle connection', '');
    lines.push(`| server | runs | RSS before MB | RSS @${b} MB | RSS @${int(t)} MB | bytes/conn median | bytes/conn min–max | ÷ net | ÷ c |`);
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const s of idle) {
      lines.push(
        `| ${s.server} | ${s.runs} | ${mb(s.rss_before)} | ${mb(s.rss_base)} | ${mb(s.rss_total)} | ${int(s.median)} | ` +
          `${int(s.min)}–${int(s.max)} | ${times(s.rate_vs_net)} | ${times(s.rate_vs_c)} |`,
      );
    }
    lines.push('');
  }

  lines.push(
    'Rate is round trips/s (churn: connections/s, each one connect + one echo + close). ' +
      'Per conn: the round trips each load-generator connection (churn: each worker) completed in the measured ' +
      'window, min / mean / max as medians over the runs; starved: the most connections that completed none in ' +
      'any run (a starved connection records no latency, so the percentiles alone cannot show it). ' +
      'Latency percentiles are medians over the runs. Server CPU/op is the server process’s utime+stime ' +
      '(/proc/PID/stat, 10 ms ticks) between the load generator’s MEASURE_START and MEASURE_END markers, ' +
      'divided by the round trips it measured in that window; user and sys µs/op split it into utime and stime. ' +
      'Polls/op: the server’s epoll_wait/epoll_pwait/epoll_pwait2 calls (all threads) per round trip in the measured ' +
      'window of one extra counted run per scenario and server, counted by perf’s syscall tracepoints (lib/poll-count.mjs; ' +
      (config.polls_skip ? `not counted in this run: ${config.polls_skip}` : 'the counted run’s times are not used') + '). ' +
      'GCs and heap Δ (Node servers only) are the garbage collections (perf_hooks gc entries) and the change of ' +
      'V8’s used heap within the same window; heap Δ can be negative when a collection ran. Kernel softirq time for loopback traffic is ' +
      'not charged to either process and is not in CPU/op. “Other CPU %” is the busy time of every other ' +
      'process (/proc/stat user+nice+system minus server, loadgen and harness) as % of one CPU; above ~10 % the ' +
      'rates are unreliable. Idle: (RSS@N − RSS@base) / (N − base), VmRSS 1 s after each batch is READY, after a warm-up round that opened and closed 1,000 connections; SIGUSR2 before each reading makes the Node servers collect garbage.',
  );
  return lines.join('\n') + '\n';
}
