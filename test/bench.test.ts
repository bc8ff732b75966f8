// Correctness of the benchmark tools (never their speed): the load generator
// verifies echoes against the nbio-wasm (one poller level- and
// edge-triggered, two pollers from an acceptor and by SO_REUSEPORT, and
// the echo plugin), C and node:net servers, churns, holds idle
// connections, and fails when a server echoes wrong bytes.
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNative } from '../bench/lib/build.mjs';
import { measureIdle, measureThroughput, SCENARIOS, serverCommands } from '../bench/lib/measure.mjs';
import { runLoadgen, startServer } from '../bench/lib/procs.mjs';

interface LoadgenResult {
  code: number | null;
  result: { round_trips: number; bad: number; errors: number; mode: string; conns_per_s?: number } | null;
  stderr: string;
}
interface Server {
  port: number;
  stop: () => Promise<number | null>;
}

let bins: { loadgen: string; echoServer: string };
const servers: Server[] = [];
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
  for (const name of ['c', 'net', 'nbio', 'nbio-p2', 'nbio-plugin', 'nbio-et', 'nbio-p2-reuseport']) {
    servers.push(await startServer(name, cmds[name]));
  }
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const srv of lenient) srv.close();
});

describe.each([
  ['c', 0],
  ['net', 1],
  ['nbio', 2],
  ['nbio-p2', 3],
  ['nbio-plugin', 4],
  ['nbio-et', 5],
  ['nbio-p2-reuseport', 6],
])('loadgen against the %s echo server', (_name, i) => {
  it('verifies 50 conns x 64 B', async () => {
    const r = await loadgen(servers[i].port, ['-c', '50', '-s', '64']);
    expectClean(r);
  });

  it('verifies 2 conns x 16 KiB', async () => {
    expectClean(await loadgen(servers[i].port, ['-c', '2', '-s', '16384']));
  });

  it('churns (graceful close and reset close)', async () => {
    for (const extra of [[], ['-r']]) {
      const r = await loadgen(servers[i].port, ['-m', 'churn', '-c', '4', ...extra]);
      expectClean(r);
      expect(r.result!.mode).toBe('churn');
      expect(r.result!.conns_per_s).toBeGreaterThan(0);
    }
  });
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

  it('fails when the server is not there', async () => {
    // Port 1 (tcpmux) is privileged and unused on loopback: connects are refused.
    const r = await loadgen(1, ['-c', '3']);
    expect(r.code).not.toBe(0);
    expect(r.result!.errors).toBe(3);
    expect(r.stderr).toMatch(/connect/);
  });
});

describe('HTTP load generator (autocannon)', () => {
  it('measures http.Server on nbio-wasm and plain http.createServer, every answer a 200', async () => {
    const cmds = serverCommands(bins);
    for (const name of ['http-nbio', 'http-node']) {
      const m = await measureThroughput({
        serverName: name, serverArgv: cmds[name], loadgen: bins.loadgen, scenario: SCENARIOS.http, warmup: 0.2, secs: 1, pin: null,
      });
      expect(m.loadgen).toMatchObject({ mode: 'http', bad: 0, errors: 0 });
      expect(m.loadgen.round_trips).toBeGreaterThan(0);
      expect(m.server_cpu_us_per_rt).toBeGreaterThan(0);
    }
  });

  it('fails when answers are not 200', async () => {
    const srv = http.createServer((_req, res) => res.writeHead(500).end());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const args = [fileURLToPath(new URL('../bench/lib/http-load.mjs', import.meta.url)), '-p', String((srv.address() as AddressInfo).port), '-w', '0', '-d', '0.5', '-c', '2'];
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

  it('fails loudly when a server cannot start', async () => {
    await expect(startServer('bogus', [process.execPath, '-e', 'process.exit(3)'])).rejects.toThrow(
      /bogus .*failed to start: exited \(code 3\)/,
    );
  });
});
