// The WASI rows of the benchmark (correctness of the tools, never speed):
// the load generator verifies echoes against the WASI echo server under
// wasmtime and under jco, started as `npm run bench` starts them, in the
// scenarios the harness runs them in.
import { afterAll, beforeAll, describe, expect, inject, it, type TestContext } from 'vitest';
import { buildNative } from '../../bench/lib/build.mjs';
import { SCENARIOS, SERVER_SCENARIOS, serverCommands } from '../../bench/lib/measure.mjs';
import { runLoadgen, startServer } from '../../bench/lib/procs.mjs';

const wasmtime = inject('wasmtime');
let bins: { loadgen: string; echoServer: string };
let commands: Record<string, string[]>;
const servers = new Map<string, { port: number; stop: () => Promise<number | null> }>();

beforeAll(async () => {
  bins = buildNative();
  commands = serverCommands(bins, 'python' in wasmtime ? wasmtime.python : null);
  for (const name of ['wasi-wasmtime', 'wasi-jco']) {
    if (commands[name]) servers.set(name, await startServer(name, commands[name]));
  }
});

afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.stop()));
});

describe.each(['wasi-wasmtime', 'wasi-jco'])('loadgen against the %s echo server', (name) => {
  const server = (ctx: TestContext) => {
    const s = servers.get(name);
    if (!s) ctx.skip('skip' in wasmtime ? wasmtime.skip : `no ${name} server`);
    return s!;
  };

  it.for(SERVER_SCENARIOS[name as keyof typeof SERVER_SCENARIOS])('verifies scenario %s (short run)', async (scenario, ctx) => {
    const { port } = server(ctx);
    const { args } = SCENARIOS[scenario as keyof typeof SCENARIOS] as { args: string[] };
    const r = await runLoadgen(bins.loadgen, ['-p', String(port), '-w', '0.1', '-d', '0.5', ...args]).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ bad: 0, errors: 0 });
    expect(r.result!.round_trips).toBeGreaterThan(0);
  });
});

describe('WASI bench servers', () => {
  it('are in the default server list, with wasmtime in every echo throughput scenario but the two-poller one', () => {
    expect(Object.keys(commands)).toEqual(expect.arrayContaining(['wasi-jco', ...('python' in wasmtime ? ['wasi-wasmtime'] : [])]));
    const echo = Object.keys(SCENARIOS).filter((s) => !['idle', 'http', 'file'].some((kind) => kind in SCENARIOS[s as keyof typeof SCENARIOS]));
    expect([...SERVER_SCENARIOS['wasi-wasmtime']].sort()).toEqual(echo.filter((s) => s !== '50x64-p2').sort());
  });
});
