// Correctness of the benchmark tools (never their speed): the load generator
// verifies echoes against the nbio-wasm (one poller level- and
// edge-triggered, two pollers from an acceptor and by SO_REUSEPORT, and
// the echo plugin), C (epoll and, where liburing is installed, io_uring)
// and node:net servers, churns, holds idle connections, and fails when a
// server echoes wrong bytes.
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNative } from '../../bench/lib/build.mjs';
import { measureIdle, measureThroughput, SCENARIOS, serverCommands } from '../../bench/lib/measure.mjs';
import { fileMarkdown, measureFileSends } from '../../bench/lib/file-send.mjs';
import { pollCountingUnavailable } from '../../bench/lib/poll-count.mjs';
import { runLoadgen, startServer } from '../../bench/lib/procs.mjs';
import { markdown, summarize } from '../../bench/lib/report.mjs';

interface LoadgenResult {
  code: number | null;
  result: {
    round_trips: number; bad: number; errors: number; mode: string; conns_per_s?: number;
    per_conn_min?: number; per_conn_mean?: number; per_conn_max?: number; starved?: number;
  } | null;
  stderr: string;
}
interface Server {
  port: number;
  stop: () => Promise<number | null>;
}

let bins: ReturnType<typeof buildNative>;
/** The echo servers the load generator is checked against (c-uring only where it can run). */
const ECHO_SERVERS = ['c', 'c-uring', 'net', 'nbio', 'nbio-p2', 'nbio-plugin', 'nbio-et', 'nbio-p2-reuseport'];
const servers = new Map<string, Server>();
const lenient: net.Server[] = [];

async function loadgen(port: number, args: string[]): Promise<LoadgenResult> {
  return runLoadgen(bins.loadgen, ['-p', String(port), '-w', '0.2', '-d', '1', ...args]).done;
}

function expectClean(r: LoadgenResult) {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.result).not.toBeNull();
  expect(r.result!.bad).toBe(0);
  expect(r.result!.errors).toBe(0);
  expect(r.result!.round_trips).toBeGreaterThan(0);
}

/** An in-process echo server that corrupts its output with `mangle`. */
async function brokenServer(mangle: (d: Buffer) => Buffer): Promise<number> {
  const srv = net.createServer({ noDelay: true }, (s) => {
    s.on('data', (d) => s.write(mangle(d)));
    s.on('error', () => s.destroy());
  });
  lenient.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as AddressInfo).port;
}

beforeAll(async () => {
  bins = buildNative();
  const cmds = serverCommands(bins);
  for (const name of ECHO_SERVERS) {
    if (name in cmds) servers.set(name, await startServer(name, cmds[name]));
  }
});

afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.stop()));
  for (const srv of lenient) srv.close();
});

describe.each(ECHO_SERVERS)('loadgen against the %s echo server', (name) => {
  /** The server's port; skips the test when the server cannot run here (c-uring without liburing or io_uring). */
  function port(ctx: { skip(note: string): never }): number {
    const server = servers.get(name);
    if (server === undefined) ctx.skip(`no ${name} server: ${bins.uringSkip}`);
    return server.port;
  }

  it('verifies 50 conns x 64 B', async (ctx) => {
    const r = await loadgen(port(ctx), ['-c', '50', '-s', '64']);
    expectClean(r);
  });

  it('verifies 2 conns x 16 KiB', async (ctx) => {
    expectClean(await loadgen(port(ctx), ['-c', '2', '-s', '16384']));
  });

  it('churns (graceful close and reset close)', async (ctx) => {
    for (const extra of [[], ['-r']]) {
      const r = await loadgen(port(ctx), ['-m', 'churn', '-c', '4', ...extra]);
      expectClean(r);
      expect(r.result!.mode).toBe('churn');
      expect(r.result!.conns_per_s).toBeGreaterThan(0);
    }
  });
});

describe('the io_uring echo server', () => {
  it('stops reading when its 64 MiB of buffers are full and resumes once they are sent', async (ctx) => {
    const server = servers.get('c-uring');
    if (server === undefined) return ctx.skip(`no c-uring server: ${bins.uringSkip}`);
    // 96 MiB written by a client that reads nothing at first: the server's
    // buffer ring runs dry and its recv ends (ENOBUFS). Once the client reads,
    // every byte must come back, in order.
    const total = 96 * 2 ** 20;
    const chunk = Buffer.alloc(2 ** 20);
    const byteAt = (i: number) => (i * 7 + (i >>> 20)) & 0xff;
    const sock = net.connect(server.port, '127.0.0.1');
    try {
      sock.pause();
      await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
      for (let off = 0; off < total; off += chunk.length) {
        for (let i = 0; i < chunk.length; i++) chunk[i] = byteAt(off + i);
        sock.write(Buffer.from(chunk));
      }
      await new Promise((r) => setTimeout(r, 500));
      let got = 0;
      let bad = -1;
      await new Promise<void>((resolve, reject) => {
        sock.on('data', (d: Buffer) => {
          for (let i = 0; i < d.length && bad < 0; i++) if (d[i] !== byteAt(got + i)) bad = got + i;
          got += d.length;
          if (got >= total || bad >= 0) resolve();
        });
        sock.once('error', reject).once('close', () => resolve());
        sock.resume();
      });
      expect(bad).toBe(-1);
      expect(got).toBe(total);
    } finally {
      sock.destroy();
    }
  }, 20_000);
});

describe('loadgen verifier', () => {
  it('counts a flipped byte as a bad echo and exits non-zero', async () => {
    let n = 0;
    const port = await brokenServer((d) => {
      // Flip one byte in every 50th chunk.
      if (++n % 50 === 0) d[d.length >> 1] ^= 0x01;
      return d;
    });
    const r = await loadgen(port, ['-c', '10', '-s', '64']);
    expect(r.code).not.toBe(0);
    expect(r.result!.bad).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/wrong echoes/);
  });

  it('catches echoes swapped between connections', async () => {
    // Every echo goes to the previously seen socket instead of its own.
    const socks: net.Socket[] = [];
    const srv = net.createServer({ noDelay: true }, (s) => {
      socks.push(s);
      s.on('data', (d) => socks[(socks.indexOf(s) + 1) % socks.length].write(d));
      s.on('error', () => s.destroy());
    });
    lenient.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const r = await loadgen((srv.address() as AddressInfo).port, ['-c', '2', '-s', '64']);
    for (const s of socks) s.destroy();
    expect(r.code).not.toBe(0);
    expect(r.result!.bad).toBeGreaterThan(0);
  });

  it('counts round trips per connection: connections a server never answers show as starved', async () => {
    // Echoes on the first three connections it accepts, never on the others.
    let accepted = 0;
    const srv = net.createServer({ noDelay: true }, (s) => {
      if (accepted++ < 3) s.on('data', (d) => s.write(d));
      s.on('error', () => s.destroy());
    });
    lenient.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const r = await loadgen((srv.address() as AddressInfo).port, ['-c', '5', '-s', '64']);
    expect(r.code).toBe(0);
    const { round_trips, per_conn_min, per_conn_mean, per_conn_max, starved } = r.result!;
    expect(starved).toBe(2);
    expect(per_conn_min).toBe(0);
    expect(per_conn_max).toBeGreaterThan(0);
    expect(per_conn_mean).toBeCloseTo(round_trips / 5, 0);
  });

  it('fails when the server is not there', async () => {
    // Port 1 (tcpmux) is privileged and unused on loopback: connects are refused.
    const r = await loadgen(1, ['-c', '3']);
    expect(r.code).not.toBe(0);
    expect(r.result!.errors).toBe(3);
    expect(r.stderr).toMatch(/connect/);
  });
});

describe('HTTP load generator (autocannon)', () => {
  it('measures http.Server on nbio-wasm and plain http.createServer, every answer a 200, per connection too', async () => {
    const cmds = serverCommands(bins);
    for (const name of ['http-nbio', 'http-node']) {
      const m = await measureThroughput({
        serverName: name, serverArgv: cmds[name], loadgen: bins.loadgen, scenario: SCENARIOS.http, warmup: 0.2, secs: 1, pin: null,
      });
      expect(m.loadgen).toMatchObject({ mode: 'http', bad: 0, errors: 0, starved: 0 });
      expect(m.loadgen.round_trips).toBeGreaterThan(0);
      // Round trips per connection (each autocannon client's answers), counted apart from the total.
      expect(m.loadgen.per_conn_min).toBeGreaterThan(0);
      expect(m.loadgen.per_conn_min * 50).toBeLessThanOrEqual(m.loadgen.round_trips);
      expect(m.loadgen.per_conn_max * 50).toBeGreaterThanOrEqual(m.loadgen.round_trips);
      expect(m.server_cpu_us_per_rt).toBeGreaterThan(0);
    }
  });

  it('fails when answers are not 200', async () => {
    const srv = http.createServer((_req, res) => res.writeHead(500).end());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const args = [fileURLToPath(new URL('../../bench/lib/http-load.mjs', import.meta.url)), '-p', String((srv.address() as AddressInfo).port), '-w', '0', '-d', '0.5', '-c', '2'];
      const r = await runLoadgen(process.execPath, args).done;
      expect(r.code).toBe(1);
      expect(r.result!.bad).toBeGreaterThan(0);
      expect(r.stderr).toMatch(/answers other than 2xx/);
    } finally {
      srv.closeAllConnections();
      srv.close();
    }
  });
});

describe('harness measurement', () => {
  it('samples server CPU over the measured window', async () => {
    const cmds = serverCommands(bins);
    const m = await measureThroughput({
      serverName: 'c',
      serverArgv: cmds.c,
      loadgen: bins.loadgen,
      scenario: SCENARIOS['50x64'],
      warmup: 0.2,
      secs: 1,
      pin: null,
    });
    expect(m.loadgen.bad).toBe(0);
    expect(m.rate).toBeGreaterThan(0);
    expect(m.server_cpu_pct).toBeGreaterThanOrEqual(0);
    expect(m.other_cpu_pct).toBeGreaterThanOrEqual(0);
  });

  it('counts the polls of a counted run: at least one epoll_wait per round trip for one connection to the C server', async (ctx) => {
    const why = pollCountingUnavailable();
    if (why) return ctx.skip(`polls cannot be counted here: ${why}`);
    const cmds = serverCommands(bins);
    const m = await measureThroughput({
      serverName: 'c',
      serverArgv: cmds.c,
      loadgen: bins.loadgen,
      scenario: SCENARIOS['1x64'],
      warmup: 0.2,
      secs: 0.5,
      pin: null,
      polls: true,
    });
    // One connection, closed loop: the C server waits for every message,
    // so it polls at least once per round trip, and not many more times.
    expect(m.loadgen.round_trips).toBeGreaterThan(0);
    expect(m.polls_per_rt).toBeGreaterThanOrEqual(0.9);
    expect(m.polls_per_rt).toBeLessThan(3);
  });

  it('sends a file three ways (sendFile, a piped read stream, read and write) to clients that each check its length', async () => {
    const runs = await measureFileSends({ pin: null, reps: 1, size: 3 * 2 ** 20 + 5, conns: 3 });
    // measureFileSends throws unless every client read exactly the file's length.
    expect(runs.map((r) => r.mode).sort()).toEqual(['pipe', 'sendfile', 'write']);
    for (const r of runs) {
      expect(r.cpu_us_per_mib).toBeGreaterThanOrEqual(0);
      expect(r.mib_per_s).toBeGreaterThan(0);
    }
    expect(fileMarkdown(runs, { size: 3 * 2 ** 20 + 5, conns: 3 })).toContain('conn.sendFile(path)');
  });

  it('measures idle memory against the nbio server', async () => {
    const cmds = serverCommands(bins);
    const m = await measureIdle({
      serverName: 'nbio',
      serverArgv: cmds.nbio,
      loadgen: bins.loadgen,
      base: 10,
      total: 300,
      pin: null,
      nofile: 4096,
      settleMs: 100,
    });
    // Real readings of a Node process (tens of MB), and a finite per-connection figure;
    // measureIdle itself throws unless all 300 connections opened and echoed.
    for (const rss of [m.rss_before, m.rss_base, m.rss_total]) expect(rss).toBeGreaterThan(10 * 2 ** 20);
    expect(Number.isFinite(m.rate)).toBe(true);
  });

  it('the report gives round trips per connection (min / mean / max, starved) for every server', () => {
    const run = (server: string, rep: number, perConn: number[], starved: number) => ({
      scenario: '1000x64', server, rep, position: 0, rate: 1000, server_cpu_us_per_rt: 5, other_cpu_pct: 0,
      loadgen: { p50_us: 1, p99_us: 2, p999_us: 3, per_conn_min: perConn[0], per_conn_mean: perConn[1], per_conn_max: perConn[2], starved },
    });
    const summary = summarize([
      run('net', 0, [600, 630, 650], 0), run('net', 1, [610, 640, 660], 0),
      run('wasi-wasmtime', 0, [0, 460, 3500], 262), run('wasi-wasmtime', 1, [4, 480, 3400], 0),
    ]);
    const md = markdown({
      machine: { cpu_model: 'x', cores: 2, kernel: 'k', node: 'v20', loadavg_at_start: [0, 0, 0], pinning: 'p' },
      config: { reps: 2, warmup: 1, secs: 3, units: { '1000x64': 'rt/s' } }, summary, startedAt: 'now', elapsedS: 1,
    });
    const header = md.split('\n').find((l) => l.startsWith('| scenario | server |'))!.split(' | ');
    const row = (server: string) => md.split('\n').find((l) => l.startsWith(`| 1000x64 | ${server} |`))!.split(' | ');
    const at = header.indexOf('per conn min / mean / max');
    expect(at).toBeGreaterThan(0);
    expect([row('net')[at], row('net')[at + 1]]).toEqual(['605 / 635 / 655', '0']);
    // Medians over the runs; starved is the worst run's.
    expect([row('wasi-wasmtime')[at], row('wasi-wasmtime')[at + 1]]).toEqual(['2 / 470 / 3,450', '262']);
  });

  it('fails loudly when a server cannot start', async () => {
    await expect(startServer('bogus', [process.execPath, '-e', 'process.exit(3)'])).rejects.toThrow(
      /bogus .*failed to start: exited \(code 3\)/,
    );
  });
});

describe('in-process plugin measurements', () => {
  it('run against the built host: per-event cost, metering and instantiation of every example plugin', async () => {
    const { measurePlugins } = await import('../../bench/lib/plugin-micro.mjs');
    const r = await measurePlugins({ quick: true });
    expect(r.per_event.map((e: { size: number }) => e.size)).toEqual([64, 1024]);
    for (const e of r.per_event) expect(e.plugin_us).toBeGreaterThan(0);
    expect(r.metering.bytes).toBe(65536);
    expect(r.instantiation.map((i: { plugin: string }) => i.plugin)).toEqual(['echo', 'upper-lines', 'http-hello']);
  });
});
