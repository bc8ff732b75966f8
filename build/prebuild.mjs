#!/usr/bin/env node
// Builds the native shim for this platform as a prebuilt addon that travels
// in the npm package (the prebuildify + node-gyp-build convention):
//   host/sys/native/prebuilds/<platform>-<arch>/node.uv1.glibc.node (Node-API: no ABI tag, any Node version)
// node-gyp-build loads it on install and at run time, so users on this
// platform need no C compiler. Runs in a scratch copy of host/sys/native, so the
// local build (host/sys/native/build) that running processes load is never
// touched. `npm pack` runs it (prepack).
//
// It compiles the shim's files that the package ships (package.json "files"
// under host/sys/native/), so the prebuilt addon and a compile-from-source
// install build the same sources, and a file missing from "files" fails here.
//
// Flags: --out DIR writes DIR/prebuilds/... instead (default host/sys/native).
// Offline machines need Node's headers: node-gyp takes them from the
// `nodedir` npm setting (npm passes it as npm_config_nodedir).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const outFlag = process.argv.indexOf('--out');
const out = outFlag > 0 ? resolve(process.argv[outFlag + 1]) : join(root, 'host', 'sys', 'native');

const nativeDir = 'host/sys/native/';
const shipped = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  .files.filter((f) => f.startsWith(nativeDir) && !f.endsWith('/'))
  .map((f) => f.slice(nativeDir.length));

const scratch = mkdtempSync(join(tmpdir(), 'nbio-prebuild-'));
try {
  for (const file of shipped) cpSync(join(root, nativeDir, file), join(scratch, file));
  const prebuildify = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js');
  const nodeGyp = join(dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js');
  const args = [prebuildify, '--napi', '--strip', '--tag-uv', '--tag-libc', '--target', `node@${process.versions.node}`,
    '--node-gyp', nodeGyp];
  const run = spawnSync(process.execPath, args, { cwd: scratch, stdio: 'inherit' });
  if (run.error || run.status !== 0) {
    process.stderr.write(`[prebuild] FAILED: prebuildify exited with ${run.error?.message ?? run.status ?? run.signal}\n`);
    process.exit(1);
  }
  cpSync(join(scratch, 'prebuilds'), join(out, 'prebuilds'), { recursive: true });
  process.stdout.write(`[prebuild] ${join(out, 'prebuilds')}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
