// 15,000 concurrent connections, each echoing, against the echo server of
// the benchmarks (bench/servers/nbio-echo.mjs) under `ulimit -n 20000`,
// driven by the C load generator (which raises its own limit): every
// connection is served, p99 latency and RSS per connection are reported.
// Figures are printed, not asserted (the machine is shared).
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNative } from '../../bench/lib/build.mjs';
import { measureIdle, measureThroughput, serverCommands } from '../../bench/lib/measure.mjs';

const CONNS = 15_000;
const NOFILE = 20_000;
let bins: { loadgen: string; echoServer: string };
beforeAll(() => {
  bins = buildNative();
});

describe('15,000 connections', () => {
  it('are all opened and served, with p99 latency and RSS per connection reported', async () => {
    const nbio = serverCommands(bins).nbio;
    // Every connection opens and completes an echo (measureIdle throws otherwise).
    const idle = await measureIdle({
      serverName: 'nbio', serverArgv: nbio, loadgen: bins.loadgen, base: 100, total: CONNS, pin: null, nofile: NOFILE, settleMs: 300,
    });
    // All of them echoing at once, closed loop, 64 B messages.
    const busy = await measureThroughput({
      serverName: 'nbio', serverArgv: nbio, loadgen: bins.loadgen, pin: null, nofile: NOFILE,
      scenario: { args: ['-c', String(CONNS), '-s', '64'] }, warmup: 1, secs: 3,
    });
    const lg = busy.loadgen as { round_trips: number; bad: number; errors: number; p50_us: number; p99_us: number };
    console.log(
      `${CONNS} connections echoing: ${Math.round(busy.rate)} round trips/s, p50 ${lg.p50_us} µs, p99 ${lg.p99_us} µs; ` +
        `RSS ${(idle.rss_base / 2 ** 20).toFixed(1)} MiB with ${idle.conns_base} connections, ` +
        `${(idle.rss_total / 2 ** 20).toFixed(1)} MiB with ${CONNS}: ${Math.round(idle.rate)} B per connection`,
    );
    expect(idle.conns_total).toBe(CONNS);
    expect(lg.errors).toBe(0);
    expect(lg.bad).toBe(0);
    expect(lg.round_trips).toBeGreaterThan(CONNS);
    expect(lg.p99_us).toBeGreaterThan(0);
    expect(Number.isFinite(idle.rate)).toBe(true);
  }, 120_000);
});
