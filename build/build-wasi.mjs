// Builds the WASI 0.2 components (called by build.mjs; runnable alone):
//   assembly/index-wasi.ts  -> dist/wasm/reactor-wasi.component.wasm
//                              (world reactor-wasi: exports engine + net)
//   examples/wasi/NAME.ts   -> dist/wasm/NAME.wasm
//                              (world server: a command exporting wasi:cli/run)
// Each is compiled with `--use NBIO_WASI=1` (the reactor's sys becomes
// assembly/sys/wasi.ts), checked to import only wasi:*, then embedded with
// wit/nbio-engine.wit + wit/nbio-wasi.wit + wit/deps/ and made a component.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { witSource } from './wit-source.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wasmDir = join(root, 'dist', 'wasm');

/** The command components: one per file in examples/wasi/. */
export const SERVER_EXAMPLES = readdirSync(join(root, 'examples', 'wasi'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => basename(f, '.ts'))
  .sort();

async function compile(entries, runtime, outFile) {
  const { default: asc } = await import('assemblyscript/asc');
  const entry = entries[0];
  const { error, stderr } = await asc.main(
    [...entries.map((e) => join(root, e)), '--config', join(root, 'build', 'asconfig-wasi.json'), '--runtime', runtime,
      '--transform', join(root, 'build', 'wit-exports.mjs'), '--outFile', outFile],
    { stdout: process.stdout, stderr: process.stderr },
  );
  if (error) throw new Error(`asc ${entry}: ${error.message ?? error}\n${stderr?.toString?.() ?? ''}`);
  const bytes = readFileSync(outFile);
  const foreign = WebAssembly.Module.imports(new WebAssembly.Module(bytes)).filter((i) => !i.module.startsWith('wasi:'));
  if (foreign.length) {
    throw new Error(`${entry}: core module imports more than wasi:*: ${foreign.map((i) => `${i.module}.${i.name}`).join(', ')}`);
  }
  return bytes;
}

async function component(core, world, outFile) {
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco');
  const source = witSource(join(root, 'wit'), ['nbio-engine.wit', 'nbio-wasi.wit'], { withDeps: true });
  writeFileSync(outFile, await componentNew(await componentEmbed({ binary: core, witSource: source, world })));
}

/** Builds every WASI component; returns the paths written. */
export async function buildWasi() {
  mkdirSync(wasmDir, { recursive: true });
  const written = [];
  const libCore = join(wasmDir, 'reactor-wasi.core.wasm');
  await component(await compile(['assembly/index-wasi.ts'], 'minimal', libCore), 'reactor-wasi',
    join(wasmDir, 'reactor-wasi.component.wasm'));
  written.push(join(wasmDir, 'reactor-wasi.component.wasm'));
  for (const name of SERVER_EXAMPLES) {
    const core = join(wasmDir, `${name}.core.wasm`);
    // Handlers may allocate (strings, objects): the incremental collector frees that.
    await component(await compile([`examples/wasi/${name}.ts`, 'assembly/wasi/command.ts'], 'incremental', core), 'server', join(wasmDir, `${name}.wasm`));
    written.push(join(wasmDir, `${name}.wasm`));
  }
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    for (const f of await buildWasi()) process.stdout.write(`[build] ${f}\n`);
  } catch (err) {
    process.stderr.write(`[build] FAILED: ${err.message}\n`);
    process.exit(1);
  }
}
