// Fairness of the WASI echo server under load, under both runtimes
// (started with the README's commands): the C load generator holds 1,000
// connections, each echoing 64 B messages one at a time, and counts the
// round trips of each. Every connection must complete round trips, and
// the least served at least a quarter of the mean. Outcomes only: the
// window is generous and no rate is asserted.
import { afterEach, describe, expect, inject, it, type TestContext } from 'vitest';
import { buildNative } from '../../bench/lib/build.mjs';
import { runLoadgen } from '../../bench/lib/procs.mjs';
import { type Command, type Runtime, jcoRuntime, startServer, wasmtimeRuntime } from './commands.js';

const wasmtime = inject('wasmtime');
const runtimes: Array<{ name: string; runtime?: Runtime; skip?: string }> = [
  { name: 'wasmtime 49', ...('python' in wasmtime ? { runtime: wasmtimeRuntime(wasmtime.python) } : { skip: wasmtime.skip }) },
  { name: 'jco preview2-shim', runtime: jcoRuntime() },
];

interface PerConn {
  code: number | null;
  stderr: string;
  result: { round_trips: number; bad: number; errors: number; per_conn_min: number; per_conn_mean: number;
    per_conn_max: number; starved: number } | null;
}

describe.each(runtimes)('the WASI echo server under $name', ({ runtime, skip }) => {
  let server: Command | undefined;
  afterEach(async () => {
    await server?.stop();
  });

  it('serves all of 1,000 busy connections: none starved, the least served gets at least a quarter of the mean', async (ctx: TestContext) => {
    if (!runtime) ctx.skip(skip);
    const { loadgen } = buildNative();
    const started = await startServer(runtime!, 'echo-server');
    server = started.command;
    const port = started.address.split(':')[1];
    const r: PerConn = await runLoadgen(loadgen, ['-p', port, '-c', '1000', '-s', '64', '-w', '2', '-d', '4']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { bad, errors, starved, per_conn_min: least, per_conn_mean: mean } = r.result!;
    expect({ bad, errors, starved }).toEqual({ bad: 0, errors: 0, starved: 0 });
    expect(least).toBeGreaterThanOrEqual(mean / 4);
  }, 60_000);
});
