// Builds WASI 0.2 components from the reactor's AssemblyScript sources.
//
// In this repository (called by build.mjs, or run with no argument):
//   assembly/index-wasi.ts  -> dist/wasm/reactor-wasi.component.wasm
//                              (world reactor-wasi: exports engine + net)
//   examples/wasi/NAME.ts   -> dist/wasm/NAME.wasm
//                              (world server: a command exporting wasi:cli/run)
//
// From an installed package, your own server (see README, "Writing your
// own server on the WASI build"):
//   node node_modules/nbio-wasm/build/build-wasi.mjs my-server.ts [my-server.wasm]
// needs `assemblyscript` and `@bytecodealliance/jco-transpile` (or
// `@bytecodealliance/jco`) installed beside nbio-wasm.
//
// Each is compiled with `--use NBIO_WASI=1` (the reactor's sys becomes
// assembly/sys/wasi.ts), checked to import only wasi:*, then embedded with
// wit/nbio-engine.wit + wit/nbio-wasi.wit + wit/deps/ and made a component.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { witSource } from './wit-source.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wasmDir = join(root, 'dist', 'wasm');
/** What every command needs besides its server file: the cabi_realloc export (see buildCommand). */
const COMMAND_ENTRY = join(root, 'assembly', 'wasi', 'command.ts');

/** The command components of this repository: one per file in examples/wasi/. */
export const SERVER_EXAMPLES = existsSync(join(root, 'examples', 'wasi'))
  ? readdirSync(join(root, 'examples', 'wasi')).filter((f) => f.endsWith('.ts')).map((f) => basename(f, '.ts')).sort()
  : [];

/** An error with a stable code, for what the user must fix. */
function failure(code, message) {
  return Object.assign(new Error(message), { code });
}

const TOOLCHAIN = 'npm install --save-dev assemblyscript@0.28.20 @bytecodealliance/jco-transpile@0.15.0';

/** Imports the first of `specifiers` that is installed, for `what`; throws
 *  ERR_NBIO_WASI_TOOLCHAIN, saying what to install, when none is. */
async function need(specifiers, what) {
  for (const specifier of specifiers) {
    try {
      return await import(specifier);
    } catch (err) {
      const pkg = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
      if (err.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes(`'${pkg}'`)) throw err;
    }
  }
  throw failure('ERR_NBIO_WASI_TOOLCHAIN', `building a WASI component needs ${what} (${specifiers.join(' or ')}), ` +
    `which is not installed here: run ${TOOLCHAIN}`);
}

async function compile(entries, runtime, outFile, extra = []) {
  const { default: asc } = await need(['assemblyscript/asc'], 'the AssemblyScript compiler');
  const entry = entries[0];
  const { error } = await asc.main(
    [...entries, '--config', join(root, 'build', 'asconfig-wasi.json'), '--runtime', runtime,
      '--transform', join(root, 'build', 'wit-exports.mjs'), '--outFile', outFile, ...extra],
    { stdout: process.stdout, stderr: process.stderr },
  );
  // The compiler's own messages went to stderr already.
  if (error) throw failure('ERR_NBIO_WASI_COMPILE', `asc ${entry}: ${error.message ?? error}`);
  const bytes = readFileSync(outFile);
  const foreign = WebAssembly.Module.imports(new WebAssembly.Module(bytes)).filter((i) => !i.module.startsWith('wasi:'));
  if (foreign.length) {
    throw failure('ERR_NBIO_WASI_COMPILE',
      `${entry}: core module imports more than wasi:*: ${foreign.map((i) => `${i.module}.${i.name}`).join(', ')}`);
  }
  return bytes;
}

async function component(core, world, outFile) {
  const { componentEmbed, componentNew } = await need(
    ['@bytecodealliance/jco-transpile/wasm-tools', '@bytecodealliance/jco'], 'wasm-tools from jco');
  const source = witSource(join(root, 'wit'), ['nbio-engine.wit', 'nbio-wasi.wit'], { withDeps: true });
  writeFileSync(outFile, await componentNew(await componentEmbed({ binary: core, witSource: source, world })));
}

/** Whether this copy of the reactor is an installed package (node_modules/nbio-wasm). */
const INSTALLED = basename(dirname(root)) === 'node_modules' && basename(root) === 'nbio-wasm';

/**
 * Builds the command component of a server file (`run$run` calling
 * `serve` or `connect`, see assembly/wasi/loop.ts) into `outFile`; its
 * core module is written beside it as NAME.core.wasm. Handlers may
 * allocate (strings, objects): the incremental collector frees that.
 *
 * The command also needs assembly/wasi/command.ts (cabi_realloc), named
 * as the server file names the reactor, or AssemblyScript compiles the
 * reactor's files twice under two names (two separate `cabi_realloc`
 * arenas). The examples here import it by relative path, so it is a
 * second entry; a server beside an installed package imports
 * `nbio-wasm/assembly/...`, so the entry is a generated file that
 * re-exports the server and imports command.ts that way too.
 */
export async function buildCommand(serverFile, outFile) {
  const core = outFile.replace(/(\.wasm)?$/, '.core.wasm');
  if (!INSTALLED) {
    await component(await compile([resolve(serverFile), COMMAND_ENTRY], 'incremental', core), 'server', outFile);
    return outFile;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'nbio-wasi-build-'));
  try {
    const entry = join(scratch, 'command.ts');
    const server = relative(scratch, resolve(serverFile)).replace(/\.ts$/, '').split(sep).join('/');
    writeFileSync(entry, `export { cabi_realloc } from "nbio-wasm/assembly/wasi/command";\nexport * from "${server}";\n`);
    await component(await compile([entry], 'incremental', core, ['--path', dirname(root)]), 'server', outFile);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return outFile;
}

/** Builds every WASI component of this repository; returns the paths written. */
export async function buildWasi() {
  mkdirSync(wasmDir, { recursive: true });
  const written = [];
  const libCore = join(wasmDir, 'reactor-wasi.core.wasm');
  await component(await compile([join(root, 'assembly', 'index-wasi.ts')], 'minimal', libCore), 'reactor-wasi',
    join(wasmDir, 'reactor-wasi.component.wasm'));
  written.push(join(wasmDir, 'reactor-wasi.component.wasm'));
  for (const name of SERVER_EXAMPLES) {
    written.push(await buildCommand(join(root, 'examples', 'wasi', `${name}.ts`), join(wasmDir, `${name}.wasm`)));
  }
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [serverFile, outFile] = process.argv.slice(2);
  try {
    if (serverFile === undefined) {
      for (const f of await buildWasi()) process.stdout.write(`[build] ${f}\n`);
    } else {
      if (!existsSync(serverFile)) throw failure('ERR_NBIO_WASI_USAGE', `no such file: ${serverFile}`);
      const out = outFile ?? join(dirname(serverFile), `${basename(serverFile, '.ts')}.wasm`);
      process.stdout.write(`[build] ${await buildCommand(serverFile, out)}\n`);
    }
  } catch (err) {
    process.stderr.write(`[build] FAILED${err.code ? ` (${err.code})` : ''}: ${err.message}\n`);
    process.exit(1);
  }
}
