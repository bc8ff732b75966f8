// What runs once before the tests: the build, and the python venv the wasmtime
// tests use.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { prepareWasmtime, type WasmtimeSetup } from './wasmtime/venv.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The python that runs the wasmtime tests, or why they are skipped. */
    wasmtime: WasmtimeSetup;
  }
}

/**
 * Builds the reactor, the components, the jco glue and dist/ before any
 * test runs: several tests exercise the built artifacts (the core module,
 * the transpiled component, the examples and WASI commands in child
 * processes), which must match the sources under test. Then prepares the
 * project-local python venv with wasmtime-py for the wasmtime tests.
 */
export default function setup(project: TestProject): void {
  const build = spawnSync(process.execPath, [fileURLToPath(new URL('../build/build.mjs', import.meta.url))], {
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`build failed before the tests:\n${build.stdout}${build.stderr}`);
  project.provide('wasmtime', prepareWasmtime(fileURLToPath(new URL('..', import.meta.url))));
}
