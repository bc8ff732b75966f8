// The 20-second soak (test/soak/soak.mjs; `npm run soak -- --minutes N` for
// longer): thousands of connections opening and closing, half dialed by
// the engine, messages up to 1 MiB verified byte for byte, slow readers,
// resets; descriptors, RSS and reactor memory back to baseline.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SOAK = fileURLToPath(new URL('./soak.mjs', import.meta.url));

describe('soak', () => {
  it('20 s of churn, slow readers and resets: every byte intact, everything back to baseline', () => {
    const run = spawnSync(process.execPath, [SOAK, '--seconds', '20'], { encoding: 'utf8', timeout: 150_000 });
    const table = run.stdout.split('\n').filter((line) => !line.startsWith('SOAK ')).join('\n');
    console.log(table);
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout.split('\n').find((line) => line.startsWith('SOAK '))!.slice(5));
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(run.status).toBe(0);
    expect(result.totals.sessions).toBeGreaterThan(1000);
    expect(result.totals.dialed).toBeGreaterThan(500);
    expect(result.totals.slow + result.totals.resets).toBeGreaterThan(100);
    expect(result.end.opened).toBe(result.end.closed);
  }, 180_000);
});
