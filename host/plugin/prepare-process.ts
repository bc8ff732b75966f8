/**
 * The child process that checks and meters one plugin (see module.ts):
 * receives a {@link PrepareRequest}, takes the component's core module out,
 * checks it against the plugin world, injects the metering with binaryen,
 * caps its memory, sends the result ({@link PrepareResult}) back once and
 * exits. It needs binaryen, which no other part of the engine loads.
 */
import binaryen from 'binaryen';
import { NbioError } from '../errors.js';
import { pluginCoreModule } from './component.js';
import { capMemory } from './memory-cap.js';
import { meter } from './metering.js';
import type { PrepareRequest, PrepareResult } from './module.js';
import { checkWorld, type FunctionShape, type ModuleShape } from './world.js';

type Binaryen = typeof binaryen;

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

/** The pipeline of the file comment; throws ERR_NBIO_PLUGIN_LOAD for anything refused. */
function prepare(component: Uint8Array, maxPages: number): PrepareResult {
  const core = pluginCoreModule(component);
  if (!WebAssembly.validate(core as Uint8Array<ArrayBuffer>)) throw loadError('its core module is not valid WebAssembly');
  // Read with every feature, so that binaryen never stops on one; the
  // metering refuses instructions outside the accepted set.
  const mod = binaryen.readBinaryWithFeatures(core, binaryen.Features.All);
  try {
    const exports = checkWorld(shapeOf(binaryen, mod));
    const hasStart = meter(binaryen as Parameters<typeof meter>[0], mod, memoryName(binaryen, mod), maxPages);
    if (!mod.validate()) throw loadError('the metered module does not validate');
    return { ok: true, bytes: capMemory(mod.emitBinary(), maxPages), exports, hasStart };
  } finally {
    mod.dispose();
  }
}

process.once('message', ({ component, maxPages }: PrepareRequest) => {
  let result: PrepareResult;
  try {
    result = prepare(component, maxPages);
  } catch (err) {
    const { code, message } = err as { code?: string; message: string };
    result = code === 'ERR_NBIO_PLUGIN_LOAD'
      ? { ok: false, code, message }
      : { ok: false, code: 'ERR_NBIO_PLUGIN_LOAD', message: `plugin refused: checking it failed (${message})` };
  }
  process.send!(result, () => process.exit(0));
});
