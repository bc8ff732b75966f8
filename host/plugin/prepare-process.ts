/**
 * The child process that checks and meters one plugin (see prepare-worker.ts):
 * receives a {@link PrepareRequest}, takes the component's core module out,
 * checks it against the plugin world and its memory budget, injects the
 * metering with binaryen, caps its memory and tables, checks that V8
 * compiles the result, sends it back ({@link PrepareReply}) and exits. It
 * needs binaryen, which no other part of the engine loads.
 */
import binaryen from 'binaryen';
import { NbioError } from '../errors.js';
import { pluginCoreModule } from './component.js';
import { capLimits, declaredLimits, planBudget, type InstanceShape } from './memory-budget.js';
import { allowedFeatures, meter } from './metering.js';
import type { PrepareReply, PrepareRequest } from './prepare-worker.js';
import { checkWorld, importName, type ExportMap, type FunctionShape, type ImportName, type ModuleShape } from './world.js';

type Binaryen = typeof binaryen;

/** What {@link prepare} makes of a component: the prepared module, or why it is refused. */
type PrepareResult = { ok: true; bytes: Uint8Array; exports: ExportMap; hasStart: boolean } | { ok: false; message: string };

/** Bytes of the prepared module per message back. */
const REPLY_CHUNK = 1024 * 1024;

function shapeOf(b: Binaryen, mod: binaryen.Module): ModuleShape {
  const types = (t: number) => b.expandType(t).map((x) => (x === b.i32 ? 'i32' : x === b.i64 ? 'i64' : `type ${x}`));
  const fnShape = (fn: number): FunctionShape => {
    const info = b.getFunctionInfo(fn);
    return { params: types(info.params), results: types(info.results) };
  };
  const shape: ModuleShape = { functionImports: [], otherImports: [], exports: [], memories: [] };
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const fn = mod.getFunctionByIndex(i);
    const info = b.getFunctionInfo(fn);
    if (info.module) shape.functionImports.push({ module: info.module, name: info.base ?? '', shape: fnShape(fn) });
  }
  for (let i = 0; i < mod.getNumGlobals(); i++) {
    const info = b.getGlobalInfo(mod.getGlobalByIndex(i));
    if (info.module) shape.otherImports.push({ module: info.module, name: info.base ?? '', kind: 'global' });
  }
  for (let i = 0; i < mod.getNumTables(); i++) {
    const info = b.getTableInfo(mod.getTableByIndex(i));
    if (info.module) shape.otherImports.push({ module: info.module, name: info.base ?? '', kind: 'table' });
  }
  const kinds = new Map<number, ModuleShape['exports'][number]['kind']>([
    [b.ExternalFunction, 'function'], [b.ExternalMemory, 'memory'], [b.ExternalTable, 'table'],
    [b.ExternalGlobal, 'global'], [b.ExternalTag, 'tag'],
  ]);
  for (let i = 0; i < mod.getNumExports(); i++) {
    const info = b.getExportInfo(mod.getExportByIndex(i));
    const kind = kinds.get(info.kind)!;
    shape.exports.push({ name: info.name, kind, shape: kind === 'function' ? fnShape(mod.getFunction(info.value)) : undefined });
  }
  if (mod.hasMemory()) {
    const memory = mod.getMemoryInfo(memoryName(b, mod));
    if (memory.module) shape.otherImports.push({ module: memory.module, name: memory.base ?? '', kind: 'memory' });
    shape.memories.push({ shared: memory.shared, is64: memory.is64 });
  }
  return shape;
}

/** The internal name of the module's (only) memory: the one it exports. */
function memoryName(b: Binaryen, mod: binaryen.Module): string {
  for (let i = 0; i < mod.getNumExports(); i++) {
    const info = b.getExportInfo(mod.getExportByIndex(i));
    if (info.kind === b.ExternalMemory) return info.value;
  }
  return '0';
}

function loadError(message: string): NbioError {
  return new NbioError('ERR_NBIO_PLUGIN_LOAD', `plugin refused: ${message}`);
}

/** V8's own verdict on `bytes`: undefined if it compiles, else its message. */
function compileError(bytes: Uint8Array): string | undefined {
  try {
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The world's imports of the module by internal name, with the host function each is. */
function hostImports(b: Binaryen, mod: binaryen.Module): Map<string, ImportName> {
  const imports = new Map<string, ImportName>();
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const info = b.getFunctionInfo(mod.getFunctionByIndex(i));
    const name = info.module ? importName(info.module, info.base ?? '') : undefined;
    if (name !== undefined) imports.set(info.name, name);
  }
  return imports;
}

/** What an instance of the module allocates, as it declares it (see memory-budget.ts). */
function instanceShape(b: Binaryen, mod: binaryen.Module, core: Uint8Array): InstanceShape {
  let elementEntries = 0;
  for (let i = 0; i < mod.getNumElementSegments(); i++) {
    elementEntries += b.getElementSegmentInfo(mod.getElementSegmentByIndex(i)).data.length;
  }
  return {
    ...declaredLimits(core),
    globals: mod.getNumGlobals(),
    exports: mod.getNumExports(),
    functions: mod.getNumFunctions(),
    elementEntries,
  };
}

/** The pipeline of the file comment; throws ERR_NBIO_PLUGIN_LOAD for anything refused. */
function prepare(component: Uint8Array, maxBytes: number): PrepareResult {
  const core = pluginCoreModule(component);
  const invalid = compileError(core);
  if (invalid !== undefined) throw loadError(`its core module is not valid WebAssembly (${invalid})`);
  // Read with every feature, so that binaryen never stops on one; the
  // metering refuses instructions outside the accepted set.
  const mod = binaryen.readBinaryWithFeatures(core, binaryen.Features.All);
  try {
    const exports = checkWorld(shapeOf(binaryen, mod));
    const budget = planBudget(instanceShape(binaryen, mod, core), maxBytes);
    const tables: string[] = [];
    for (let i = 0; i < mod.getNumTables(); i++) tables.push(binaryen.getTableInfo(mod.getTableByIndex(i)).name);
    const plan = { memory: memoryName(binaryen, mod), tables, imports: hostImports(binaryen, mod), budget };
    const hasStart = meter(binaryen as unknown as Parameters<typeof meter>[0], mod, plan);
    mod.setFeatures(allowedFeatures(binaryen));
    if (!mod.validate()) throw loadError('it uses types or instructions outside what the engine accepts (WebAssembly 2.0 without threads)');
    const bytes = capLimits(mod.emitBinary(), budget);
    const refused = compileError(bytes);
    if (refused !== undefined) throw loadError(`the engine cannot compile it (${refused})`);
    return { ok: true, bytes, exports, hasStart };
  } finally {
    mod.dispose();
  }
}

/** The message of a refusal, whatever was thrown (binaryen may throw other things than Errors). */
function refusal(err: unknown): PrepareResult {
  const { code, message } = (err ?? {}) as { code?: string; message?: string };
  if (code === 'ERR_NBIO_PLUGIN_LOAD' && message !== undefined) return { ok: false, message };
  const what = typeof message === 'string' ? message : String(err);
  return { ok: false, message: `plugin refused: the engine could not read or instrument it (${what})` };
}

const received: Uint8Array[] = [];

/** Sends the reply: the module in chunks, then what was found; or the refusal. */
async function reply(result: PrepareResult): Promise<void> {
  const post = (message: PrepareReply) => new Promise<void>((resolve) => process.send!(message, () => resolve()));
  if (!result.ok) {
    await post({ type: 'refused', code: 'ERR_NBIO_PLUGIN_LOAD', message: result.message });
    return;
  }
  for (let at = 0; at < result.bytes.length; at += REPLY_CHUNK) await post({ type: 'chunk', bytes: result.bytes.subarray(at, at + REPLY_CHUNK) });
  await post({ type: 'done', exports: result.exports, hasStart: result.hasStart });
}

// The worker that asked went away: nobody wants the result.
process.once('disconnect', () => process.exit(0));

process.on('message', (request: PrepareRequest) => {
  if (request.type === 'chunk') {
    received.push(request.bytes);
    return;
  }
  let result: PrepareResult;
  try {
    result = prepare(Buffer.concat(received), request.maxBytes);
  } catch (err) {
    result = refusal(err);
  }
  void reply(result).then(() => process.exit(0));
});
