#!/usr/bin/env node
// The HTTP load generator: autocannon (a devDependency), HTTP/1.1
// keep-alive GETs, driven like bench/loadgen.c so the harness measures it
// the same way: a warm-up run, then `MEASURE_START`, the measured run,
// `MEASURE_END`, and one JSON line (`round_trips` are requests; the
// per-connection counts are each autocannon client's answers).
//   node bench/lib/http-load.mjs -p PORT [-h 127.0.0.1] [-c 50] [-w WARMUP_S] [-d SECS]
// Exit status 1, with the reason on stderr, if any request failed, timed
// out or got anything but 200.
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    p: { type: 'string' },
    h: { type: 'string', default: '127.0.0.1' },
    c: { type: 'string', default: '50' },
    w: { type: 'string', default: '1' },
    d: { type: 'string', default: '5' },
  },
});
if (!o.p) {
  console.error('http-load: -p PORT is required');
  process.exit(2);
}
const url = `http://${o.h}:${o.p}/`;
const connections = Number(o.c);

/** Runs the load for `seconds`; `perConn`, if given, gets each client's count of answers. */
const load = (seconds, perConn = null) => autocannon({
  url, connections, pipelining: 1, duration: seconds,
  ...(perConn && {
    setupClient: (client) => {
      const i = perConn.push(0) - 1;
      client.on('response', () => perConn[i]++);
    },
  }),
});

/** Why a run is not clean, or '' when every request got a 200. */
function problems(r) {
  const bad = [];
  if (r.errors) bad.push(`${r.errors} errors`);
  if (r.timeouts) bad.push(`${r.timeouts} timeouts`);
  if (r.non2xx) bad.push(`${r.non2xx} answers other than 2xx`);
  if (r.requests.total === 0) bad.push('no request answered');
  return bad.join(', ');
}

if (Number(o.w) > 0) {
  const warm = await load(Number(o.w));
  const bad = problems(warm);
  if (bad) {
    console.error(`http-load: warm-up against ${url}: ${bad}`);
    process.exit(1);
  }
}
console.log('MEASURE_START');
const perConn = [];
const r = await load(Number(o.d), perConn);
console.log('MEASURE_END');
const us = (ms) => Math.round(ms * 1000);
console.log(JSON.stringify({
  mode: 'http',
  conns: connections,
  secs: Number(o.d),
  round_trips: r.requests.total,
  rt_per_s: r.requests.total / Number(o.d),
  // autocannon keeps latencies in whole milliseconds; the mean carries fractions.
  mean_us: us(r.latency.mean),
  per_conn_min: Math.min(...perConn),
  per_conn_mean: r.requests.total / connections,
  per_conn_max: Math.max(...perConn),
  starved: perConn.filter((n) => n === 0).length,
  p50_us: us(r.latency.p50),
  p99_us: us(r.latency.p99),
  p999_us: us(r.latency.p99_9),
  max_us: us(r.latency.max),
  bad: r.non2xx,
  errors: r.errors + r.timeouts,
}));
const bad = problems(r);
if (bad) {
  console.error(`http-load: ${url}: ${bad}`);
  process.exit(1);
}
