// The npm package as a user gets it: the files `npm pack` selects (package.json
// "files"), with the prebuilt addon that `npm pack` adds (build/prebuild.mjs,
// the prepack script), packed, then installed into a fresh project outside
// the repository by a PATH that has node and npm but no C compiler, make or
// python. The example echo server and client then run from that project,
// importing 'nbio-wasm'; a plugin load there fails, naming the command that
// installs binaryen (an optional peer dependency), and once it is installed
// the README's plugin example runs with the plugin the package ships; and a
// second fresh project builds a WASI server of
// its own with the package's build script and runs it.
//
// The repository itself is left untouched: the packed files are staged in a
// scratch directory (the local build and dist/ are in use by other tests).
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Child, readmeBlocks } from '../readme/readme-blocks.js';
import { Command, commandLine, jcoRuntime, readmeCommand, wasmtimeRuntime } from '../wasi/commands.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');

let scratch: string;
let tarball: string;
let project: string;
let installEnv: NodeJS.ProcessEnv;

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
  run(process.execPath, [join(root, 'build', 'prebuild.mjs'), '--out', join(staging, 'host', 'sys', 'native')], { cwd: root });
  const packed = JSON.parse(run(process.execPath, [npmCli, 'pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: staging })) as
    { filename: string }[];
  tarball = join(scratch, packed[0].filename);

  project = join(scratch, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  installEnv = { ...process.env, PATH: bareBin(join(scratch, 'bin')) };
  delete installEnv.npm_config_nodedir;
  run(process.execPath, [npmCli, 'install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, env: installEnv });
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
    expect(readdirSync(join(installed, 'host', 'sys', 'native', 'prebuilds', 'linux-x64'))).toEqual([expect.stringMatching(/\.node$/)]);
    // Installed with no compiler on PATH: nothing was built from source.
    expect(existsSync(join(installed, 'host', 'sys', 'native', 'build'))).toBe(false);
    const modules = readdirSync(join(project, 'node_modules'));
    for (const tool of ['assemblyscript', 'typescript', '@bytecodealliance', 'vitest', 'node-gyp', 'prebuildify']) {
      expect(modules).not.toContain(tool);
    }
    expect(existsSync(join(installed, 'dist', 'host', 'sys', 'fake.js'))).toBe(false);
  });

  it('does not install binaryen: loading a plugin fails with an error naming the README\'s install command', () => {
    expect(existsSync(join(project, 'node_modules', 'binaryen'))).toBe(false);
    writeFileSync(
      join(project, 'plugin-without-binaryen.mjs'),
      `import { Engine } from 'nbio-wasm';
const engine = new Engine({ addrs: ['127.0.0.1:0'], plugin: { module: new URL(import.meta.resolve('nbio-wasm/plugins/echo.wasm')) } });
await engine.start().catch((err) => console.log(err.code, err.message));
`,
    );
    const r = spawnSync(process.execPath, ['plugin-without-binaryen.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ERR_NBIO_PLUGIN_LOAD loading a plugin needs binaryen/);
    expect(r.stdout.trim().endsWith(`run ${readmeCommand('npm install binaryen@').join(' ')}`)).toBe(true);
    expect(r.status).toBe(0);
  });

  it('runs the README\'s plugin example from the install once binaryen is installed with the README\'s command', async () => {
    const install = readmeCommand('npm install binaryen@');
    run(process.execPath, [npmCli, ...install.slice(1), '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, env: installEnv });
    const block = readmeBlocks(readFileSync(join(root, 'README.md'), 'utf8')).find((b) => b.code.includes("nbio-wasm/plugins/upper-lines.wasm"));
    writeFileSync(join(project, 'plugin-example.mjs'), block!.code);
    const server = new Child(process.execPath, ['plugin-example.mjs'], { cwd: project, env: { ...process.env, PORT: '0' }, stdin: false });
    try {
      const [, host, port] = await server.waitFor(/^listening on (\S+):(\d+)$/m, 60_000, 'a "listening on HOST:PORT" line');
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = net.connect({ host, port: Number(port) }, () => socket.write('hello\n'));
        socket.setEncoding('utf8').on('error', reject).once('data', (d: string) => {
          socket.destroy();
          resolve(d);
        });
      });
      expect(reply).toBe('HELLO\n');
    } finally {
      await server.kill();
    }
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

describe('your own WASI server from the installed package', () => {
  let server: Command | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('without the compilers installed, the build says which to install (ERR_NBIO_WASI_TOOLCHAIN)', () => {
    writeFileSync(join(project, 'my-server.ts'), 'export function run$run(): i32 { return 0; }\n');
    const r = spawnSync(process.execPath, ['node_modules/nbio-wasm/build/build-wasi.mjs', 'my-server.ts'],
      { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('(ERR_NBIO_WASI_TOOLCHAIN)');
    expect(r.stderr).toContain(readmeCommand('npm install --save-dev assemblyscript').join(' '));
  });

  it('compiles a server file with the one documented command, and the component serves', async () => {
    const app = join(scratch, 'wasi-app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'wasi-app', version: '1.0.0', private: true }));
    // README, "Writing your own server on the WASI build": the toolchain, then the build.
    const toolchain = readmeCommand('npm install --save-dev assemblyscript');
    run(process.execPath, [npmCli, 'install', tarball, ...toolchain.slice(2), '--prefer-offline', '--no-audit', '--no-fund'],
      { cwd: app, env: installEnv });
    mkdirSync(join(app, 'src'));
    writeFileSync(join(app, 'src', 'upper-server.ts'), `import { Bytes, Conn, Handlers, serve } from "nbio-wasm/assembly/wasi/loop";

class Upper extends Handlers {
  onData(conn: Conn, data: Bytes): void { conn.writeString(data.toString().toUpperCase()); }
}

export function run$run(): i32 {
  return serve(new Upper(), { address: "127.0.0.1:0" });
}
`);
    const build = readmeCommand('node node_modules/nbio-wasm/build/build-wasi.mjs');
    expect(build.slice(2)).toEqual(['src/my-server.ts', 'my-server.wasm']);
    const out = run(process.execPath, [build[1], 'src/upper-server.ts', 'upper-server.wasm'], { cwd: app, env: installEnv });
    expect(out).toContain('upper-server.wasm');

    const wasmtime = inject('wasmtime');
    const runtime = 'python' in wasmtime ? wasmtimeRuntime(wasmtime.python) : jcoRuntime();
    server = new Command(commandLine(runtime, join(app, 'upper-server.wasm'), ['127.0.0.1:0']), runtime.usesTmp);
    const [, address] = await server.line(/^listening (\S+)$/);
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.split(':').pop())];
    const text = 'your own server '.repeat(4096);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host, port }, () => socket.write(text));
      let got = '';
      socket.setEncoding('utf8').on('error', reject).on('data', (d: string) => {
        got += d;
        if (got.length >= text.length) {
          socket.destroy();
          resolve(got);
        }
      });
    });
    expect(reply).toBe(text.toUpperCase());
  }, 180_000);
});
