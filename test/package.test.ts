// The npm package as a user gets it: the files `npm pack` selects (package.json
// "files"), with the prebuilt addon that `npm pack` adds (build/prebuild.mjs,
// the prepack script), packed, then installed into a fresh project outside
// the repository by a PATH that has node and npm but no C compiler, make or
// python. The example echo server and client then run from that project,
// importing 'nbio-wasm'.
//
// The repository itself is left untouched: the packed files are staged in a
// scratch directory (the local build and dist/ are in use by other tests).
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');

let scratch: string;
let tarball: string;
let project: string;

function run(cmd: string, args: string[], options: SpawnSyncOptions): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180_000, ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`);
  return String(r.stdout);
}

/** A PATH with only node, npm and sh: installing must not need a compiler. */
function bareBin(dir: string): string {
  mkdirSync(dir);
  symlinkSync(process.execPath, join(dir, 'node'));
  symlinkSync(npmCli, join(dir, 'npm'));
  symlinkSync('/bin/sh', join(dir, 'sh'));
  return dir;
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'nbio-package-'));
  const staging = join(scratch, 'staging');
  const listed = JSON.parse(run(process.execPath, [npmCli, 'pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root })) as
    { files: { path: string }[] }[];
  for (const { path } of listed[0].files) cpSync(join(root, path), join(staging, path));
  run(process.execPath, [join(root, 'build', 'prebuild.mjs'), '--out', join(staging, 'host', 'native')], { cwd: root });
  const packed = JSON.parse(run(process.execPath, [npmCli, 'pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: staging })) as
    { filename: string }[];
  tarball = join(scratch, packed[0].filename);

  project = join(scratch, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: bareBin(join(scratch, 'bin')) };
  delete env.npm_config_nodedir;
  run(process.execPath, [npmCli, 'install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, env });
  for (const name of ['echo-server', 'echo-client']) {
    const compiled = readFileSync(join(root, 'dist', 'examples', `${name}.js`), 'utf8');
    writeFileSync(join(project, `${name}.mjs`), compiled.replace("'../host/index.js'", "'nbio-wasm'"));
  }
}, 300_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('carries the compiled Wasm and a prebuilt linux-x64 addon, not the build tools', () => {
    const installed = join(project, 'node_modules', 'nbio-wasm');
    expect(existsSync(join(installed, 'dist', 'wasm', 'reactor.core.wasm'))).toBe(true);
    expect(existsSync(join(installed, 'dist', 'host', 'index.d.ts'))).toBe(true);
    expect(readdirSync(join(installed, 'host', 'native', 'prebuilds', 'linux-x64'))).toEqual([expect.stringMatching(/\.node$/)]);
    // Installed with no compiler on PATH: nothing was built from source.
    expect(existsSync(join(installed, 'host', 'native', 'build'))).toBe(false);
    const modules = readdirSync(join(project, 'node_modules'));
    for (const tool of ['assemblyscript', 'typescript', '@bytecodealliance', 'vitest', 'node-gyp', 'prebuildify']) {
      expect(modules).not.toContain(tool);
    }
    expect(existsSync(join(installed, 'dist', 'host', 'sys', 'fake.js'))).toBe(false);
  });

  it('loads and runs a plugin from the installed package (binaryen and the checking process come with it)', () => {
    cpSync(join(root, 'dist', 'plugins', 'echo.wasm'), join(project, 'echo.wasm'));
    writeFileSync(
      join(project, 'plugin-echo.mjs'),
      `import net from 'node:net';
import { Engine } from 'nbio-wasm';
const engine = new Engine({ addrs: ['127.0.0.1:0'], plugin: { module: new URL('./echo.wasm', import.meta.url) } });
await engine.start();
const [host, port] = [engine.addrs[0].slice(0, engine.addrs[0].lastIndexOf(':')), Number(engine.addrs[0].split(':').pop())];
const socket = net.connect({ host, port }, () => socket.write('through the plugin'));
socket.once('data', async (reply) => {
  console.log(String(reply));
  socket.destroy();
  await engine.stop();
});
`,
    );
    const run = spawnSync(process.execPath, ['plugin-echo.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('through the plugin');
    expect(run.status).toBe(0);
  });

  it('runs the example echo server and client from a project that imports it', async () => {
    const server = spawn(process.execPath, ['echo-server.mjs', '127.0.0.1:0'], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let address = '';
      for await (const line of createInterface({ input: server.stdout! })) {
        const m = /^echo server listening on (\S+)$/.exec(line);
        if (m) {
          address = m[1];
          break;
        }
      }
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      const client = spawnSync(process.execPath, ['echo-client.mjs', address], { cwd: project, encoding: 'utf8', timeout: 60_000 });
      expect(client.stdout).toContain('OK: 4194304 bytes echoed intact');
      expect(client.status).toBe(0);
    } finally {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
  });
});
