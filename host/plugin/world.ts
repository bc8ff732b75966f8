/**
 * The plugin world (wit/nbio-plugin.wit, world connection-plugin) at the
 * core-module level: the names and canonical-ABI signatures of the imports
 * a plugin may have and of the exports it must have, and the check that a
 * plugin's core module keeps to them.
 *
 * Two spellings of the names exist: the one of wit-bindgen and
 * AssemblyScript's `@external` ("nbio:plugin/conn@0.1.0",
 * "[resource-drop]connection", "nbio:plugin/handler@0.1.0#on-data",
 * "memory", "cabi_realloc") and the newer one of wit-component
 * ("cm32p2|nbio:plugin/conn@0.1", "connection_drop", "cm32p2|...|on-data",
 * "cm32p2_memory", "cm32p2_realloc"). Both are accepted.
 */
import { NbioError } from '../api/errors.js';
import { PluginExports, PluginImports, type PluginImportName } from '../generated/plugin.js';

/** The host functions a plugin may import, by canonical name (their names and signatures: host/generated/plugin.ts). */
export type ImportName = PluginImportName;

/**
 * The functions a plugin exports, by canonical name; `required` ones must
 * be there. The world's come from the WIT; the canonical ABI adds
 * `cabi_realloc`, the post-return of `init` and the optional start
 * function.
 */
const EXPORTS = {
  init: { ...PluginExports.init, required: true },
  onOpen: { ...PluginExports.onOpen, required: true },
  onData: { ...PluginExports.onData, required: true },
  onDrain: { ...PluginExports.onDrain, required: true },
  onClose: { ...PluginExports.onClose, required: true },
  realloc: { names: ['cabi_realloc', 'cm32p2_realloc'], params: 4, results: 1, required: true },
  initPost: { names: PluginExports.init.postReturn, params: 1, results: 0, required: false },
  initialize: { names: ['_initialize', 'cm32p2_initialize'], params: 0, results: 0, required: false },
} as const;
export type ExportName = keyof typeof EXPORTS;

/**
 * Every spelling of an import, `module` and `name` joined by a newline, ->
 * its canonical name. Either spelling of the module goes with either
 * spelling of the name.
 */
const IMPORT_NAMES = new Map<string, ImportName>(
  (Object.keys(PluginImports) as ImportName[]).flatMap((name) => {
    const { modules, names } = PluginImports[name];
    return modules.flatMap((module) => names.map((n): [string, ImportName] => [`${module}\n${n}`, name]));
  }),
);

/** Every spelling of an export's name -> its canonical name (the memory is `memory`). */
const EXPORT_NAMES = new Map<string, ExportName | 'memory'>([
  ['memory', 'memory'],
  ['cm32p2_memory', 'memory'],
  ...(Object.keys(EXPORTS) as ExportName[]).flatMap((name) => EXPORTS[name].names.map((n): [string, ExportName] => [n, name])),
]);

/** Import (module, name) -> canonical name. */
export function importName(module: string, name: string): ImportName | undefined {
  return IMPORT_NAMES.get(`${module}\n${name}`);
}

/** Export name -> canonical name (the memory is `memory`), or undefined for any other export. */
export function exportName(name: string): ExportName | 'memory' | undefined {
  return EXPORT_NAMES.get(name);
}

/** What the check learned: the actual export name of each canonical export present. */
export type ExportMap = Partial<Record<ExportName | 'memory', string>>;

/** A function's shape, as the checker sees it: parameter and result types ('i32', 'i64', ...). */
export interface FunctionShape {
  params: string[];
  results: string[];
}

/** The parts of a core module the check looks at. */
export interface ModuleShape {
  /** Imported functions; any non-function import is listed in `otherImports`. */
  functionImports: { module: string; name: string; shape: FunctionShape }[];
  otherImports: { module: string; name: string; kind: string }[];
  /** Exports; functions with their shape. */
  exports: { name: string; kind: 'function' | 'memory' | 'table' | 'global' | 'tag'; shape?: FunctionShape }[];
  memories: { shared: boolean; is64: boolean }[];
}

function loadError(message: string): NbioError {
  return new NbioError('ERR_NBIO_PLUGIN_LOAD', `plugin refused: ${message}`);
}

function isI32s(shape: FunctionShape, params: number, results: number): boolean {
  return shape.params.length === params && shape.results.length === results &&
    [...shape.params, ...shape.results].every((t) => t === 'i32');
}

const describe = (f: { params: number; results: number }) =>
  `(${Array(f.params).fill('i32').join(', ')}) -> (${Array(f.results).fill('i32').join(', ')})`;

/**
 * Checks a plugin's core module against the world: only the world's
 * imports, with their exact signatures (anything else, WASI included, is
 * refused: the application grants nothing else); one memory of its own,
 * neither shared nor 64-bit; every required export with its signature.
 * Throws ERR_NBIO_PLUGIN_LOAD naming what is wrong; returns the exports.
 */
export function checkWorld(shape: ModuleShape): ExportMap {
  const foreign = [
    ...shape.functionImports.filter((i) => importName(i.module, i.name) === undefined),
    ...shape.otherImports,
  ];
  if (foreign.length > 0) {
    const names = foreign.map((i) => `${i.module}#${i.name}`).join(', ');
    throw loadError(`it imports ${names}; a plugin may import only nbio:plugin/conn and nbio:plugin/host (no WASI or other interfaces are granted)`);
  }
  for (const i of shape.functionImports) {
    const want = PluginImports[importName(i.module, i.name)!];
    if (!isI32s(i.shape, want.params, want.results)) {
      throw loadError(`import ${i.module}#${i.name} has the wrong signature; expected ${describe(want)}`);
    }
  }
  if (shape.memories.length !== 1) throw loadError(`it must define exactly one memory, it has ${shape.memories.length}`);
  if (shape.memories[0].shared || shape.memories[0].is64) throw loadError('its memory must be neither shared nor 64-bit');
  const found: ExportMap = {};
  for (const e of shape.exports) {
    if (e.name.startsWith('__nbio_')) throw loadError(`export ${e.name} uses a name reserved for the engine`);
    const name = exportName(e.name);
    if (name === undefined) continue;
    if (name === 'memory') {
      if (e.kind !== 'memory') throw loadError(`export ${e.name} must be a memory`);
    } else if (e.kind !== 'function' || !isI32s(e.shape!, EXPORTS[name].params, EXPORTS[name].results)) {
      throw loadError(`export ${e.name} must be a function ${describe(EXPORTS[name])}`);
    }
    found[name] = e.name;
  }
  if (found.memory === undefined) throw loadError('it does not export its memory');
  const missing = (Object.keys(EXPORTS) as ExportName[]).filter((n) => EXPORTS[n].required && found[n] === undefined);
  if (missing.length > 0) throw loadError(`it lacks the exports ${missing.join(', ')} of nbio:plugin/handler (or cabi_realloc)`);
  return found;
}
