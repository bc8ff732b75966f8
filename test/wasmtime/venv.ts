import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The wasmtime-py version the runner (run_command.py) is checked against. */
export const WASMTIME_PY = '49.0.0';

/** How the wasmtime tests run: the venv's python, or why they cannot. */
export type WasmtimeSetup = { python: string } | { skip: string };

function installedVersion(python: string): string | undefined {
  const r = spawnSync(python, ['-c', 'from importlib.metadata import version; print(version("wasmtime"))'],
    { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}

/**
 * Makes sure `root/.venv-wasmtime` (git-ignored) holds wasmtime-py
 * WASMTIME_PY: creates the venv with the system's python3 and installs the
 * wheel offline (pip's configured local wheel store; no retries, short
 * time-out), once. Returns the venv's python, or the reason the wasmtime
 * tests must be skipped (no python3, no venv module, no such wheel).
 */
export function prepareWasmtime(root: string): WasmtimeSetup {
  const venv = join(root, '.venv-wasmtime');
  const python = join(venv, 'bin', 'python');
  if (existsSync(python) && installedVersion(python) === WASMTIME_PY) return { python };
  const created = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8' });
  if (created.error) return { skip: `python3 not found (${created.error.message})` };
  if (created.status !== 0) return { skip: `python3 -m venv failed: ${tail(created.stderr)}` };
  const pip = spawnSync(python, ['-m', 'pip', 'install', '--retries', '0', '--timeout', '2', `wasmtime==${WASMTIME_PY}`],
    { encoding: 'utf8' });
  if (pip.status !== 0) return { skip: `pip install wasmtime==${WASMTIME_PY} failed: ${tail(pip.stderr)}` };
  const got = installedVersion(python);
  if (got !== WASMTIME_PY) return { skip: `wasmtime ${got ?? '(none)'} installed, ${WASMTIME_PY} needed` };
  return { python };
}
