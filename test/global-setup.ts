import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Builds the reactor, the component, the jco glue and dist/ before any test
 * runs: several tests exercise the built artifacts (the core module, the
 * transpiled component, the examples in child processes), which must match
 * the sources under test.
 */
export default function setup(): void {
  const build = spawnSync(process.execPath, [fileURLToPath(new URL('../build/build.mjs', import.meta.url))], {
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`build failed before the tests:\n${build.stdout}${build.stderr}`);
}
