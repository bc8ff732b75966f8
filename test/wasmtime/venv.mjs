// The project-local python venv with wasmtime-py, for the wasmtime tests and
// the wasmtime bench row (both run test/wasmtime/run_command.py with it).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The wasmtime-py version the runner (run_command.py) is checked against. */
export const WASMTIME_PY = '49.0.0';

/** @typedef {{ python: string } | { skip: string }} WasmtimeSetup */

function installedVersion(python) {
  const r = spawnSync(python, ['-c', 'from importlib.metadata import version; print(version("wasmtime"))'],
    { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const tail = (text) => text.trim().split('\n').slice(-3).join(' | ');

/**
 * Makes sure `root/.venv-wasmtime` (git-ignored) holds wasmtime-py
 * WASMTIME_PY: creates the venv with the system's python3 and installs the
 * wheel offline (pip's configured local wheel store; no retries, short
 * time-out), once. Returns the venv's python, or the reason wasmtime cannot
 * run here (no python3, no venv module, no such wheel).
 * @param {string} root
 * @returns {WasmtimeSetup}
 */
export function prepareWasmtime(root) {
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

/** The argv that runs a WASI command component under wasmtime with TCP allowed. */
export function wasmtimeCommand(python, root, component, args) {
  return [python, join(root, 'test', 'wasmtime', 'run_command.py'), 'run', '-S', 'inherit-network=y', '-S', 'tcp=y',
    component, ...args];
}
