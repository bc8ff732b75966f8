#!/usr/bin/env node
// The fuzzer: runs the fault-injection property
// (test/reactor/fault-injection.test.ts) on new schedules for as long as asked (default 10 minutes). A failure is shrunk
// to a minimal schedule, written to FILE (default fuzz-counterexample.json:
// seed, shrink path, the schedule, the error, and the command that replays
// it), and the exit code is non-zero.
//
//   npm run fuzz -- [--minutes N | --seconds N] [--out FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    out: { type: 'string', default: 'fuzz-counterexample.json' },
  },
});
const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes ?? 10) * 60;
if (!(seconds > 0)) {
  console.error('fuzz: --minutes or --seconds must be a positive number');
  process.exit(2);
}
const out = resolve(values.out);
console.log(`fuzz: generated schedules for ${seconds} s; a counterexample goes to ${out}`);
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(process.execPath, [vitest, 'run', 'test/reactor/fault-injection.test.ts', '--testTimeout=0', '-t', 'keeps bytes intact'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NBIO_FUZZ_MS: String(Math.round(seconds * 1000)), NBIO_FUZZ_OUT: out },
});
if (run.status !== 0 && existsSync(out)) {
  const found = JSON.parse(readFileSync(out, 'utf8'));
  console.error(`fuzz: counterexample written to ${out}\nfuzz: replay with ${found.replay}`);
}
process.exit(run.status ?? 1);
