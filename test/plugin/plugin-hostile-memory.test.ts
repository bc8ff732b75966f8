// Hostile plugins against the memory budget: whatever a plugin declares
// or grows (memory, tables, globals), an instance holds at most maxMemory,
// a module that could not fit is refused before any instance exists, and
// a plugin that fails on every connection, cheaply or expensively, costs
// a bounded share of CPU and memory.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { NbioError } from '../../host/index.js';
import { useScope } from '../helpers.js';
import { framedPlugin, hostilePlugin } from './hostile-fixtures.js';
import { HostileRun, MiB, untilClosed } from './plugin-hostile-harness.js';

/** Values for tables.wat: `count` tables of `min` elements, each grown by `by` on data. */
function tables(count: number, min: number, by = 0) {
  const n = Array.from({ length: count }, (_, i) => i);
  return {
    TABLES: n.map((i) => `(table $t${i} ${min} externref)`).join('\n'),
    GROW: by === 0 ? '' : n.map((i) => `(drop (table.grow $t${i} (ref.null extern) (i32.const ${by})))`).join('\n'),
  };
}

describe('hostile plugins: memory', () => {
  const scope = useScope();

  it('refuses at load a plugin declaring more tables than allowed, before any instance exists', async () => {
    const run = await HostileRun.create(scope, { module: await framedPlugin('tables', tables(400, 100_000)), maxMemory: MiB });
    const err = (await run.engine.start().catch((e: unknown) => e)) as NbioError;
    expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
    expect(err.message).toContain('it declares 400 tables; a plugin may have at most 8');
    await run.finish('400 tables');
  });

  it('refuses 6,000 tables without harm to the process that loads them', async () => {
    const file = join(scope.tempDir(), 'tables.wasm');
    writeFileSync(file, await framedPlugin('tables', tables(6000, 100_000)));
    const script = new URL('../fixtures/hostile/start-engine.mjs', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, [script, file, String(MiB)], { timeout: 60_000 });
    const result = JSON.parse(stdout) as { code?: string; message?: string };
    expect(result.code).toBe('ERR_NBIO_PLUGIN_LOAD');
    expect(result.message).toContain('it declares 6000 tables; a plugin may have at most 8');
  });

  it('refuses at load a plugin whose globals alone would pass maxMemory', async () => {
    const globals = Array.from({ length: 50_000 }, (_, i) => `(global (mut i64) (i64.const ${i}))`).join('\n');
    const run = await HostileRun.create(scope, { module: await framedPlugin('globals', { GLOBALS: globals }), maxMemory: MiB });
    const err = (await run.engine.start().catch((e: unknown) => e)) as NbioError;
    expect(err.code).toBe('ERR_NBIO_PLUGIN_LOAD');
    expect(err.message).toMatch(/an instance needs at least \d+ bytes .*more than maxMemory \(1048576\)/);
    await run.finish('50,000 globals');
  });

  it('stops growing tables in one event once memory and tables together would pass maxMemory', async () => {
    const run = await HostileRun.create(scope, { module: await hostilePlugin('tables', tables(8, 1, 99_999)) });
    await run.start();
    const socket = await run.connect();
    const closed = untilClosed(socket);
    socket.write('grow');
    expect(await closed).toBe('');
    expect(run.closes.map((c) => c.code)).toEqual(['ERR_NBIO_PLUGIN_LIMIT']);
    expect(run.closes[0].message).toContain('its memory and tables would grow past maxMemory (16777216 bytes)');
    await run.finish('table.grow on 8 tables');
  });
});
