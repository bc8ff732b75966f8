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

/** The host functions a plugin may import, by canonical name. */
export const IMPORTS = {
  write: { params: 3, results: 1 },
  end: { params: 1, results: 0 },
  close: { params: 1, results: 0 },
  pause: { params: 1, results: 0 },
  resume: { params: 1, results: 0 },
  localAddress: { params: 2, results: 0 },
  remoteAddress: { params: 2, results: 0 },
  drop: { params: 1, results: 0 },
  log: { params: 3, results: 0 },
} as const;
export type ImportName = keyof typeof IMPORTS;

/** The functions a plugin exports, by canonical name; `required` ones must be there. */
export const EXPORTS = {
  init: { params: 2, results: 1, required: true },
  onOpen: { params: 1, results: 1, required: true },
  onData: { params: 3, results: 0, required: true },
  onDrain: { params: 1, results: 0, required: true },
  onClose: { params: 2, results: 0, required: true },
  realloc: { params: 4, results: 1, required: true },
  initPost: { params: 1, results: 0, required: false },
  initialize: { params: 0, results: 0, required: false },
} as const;
export type ExportName = keyof typeof EXPORTS;

const CONN_METHODS: Record<string, ImportName> = {
  '[method]connection.write': 'write',
  '[method]connection.end': 'end',
  '[method]connection.close': 'close',
  '[method]connection.pause': 'pause',
  '[method]connection.resume': 'resume',
  '[method]connection.local-address': 'localAddress',
  '[method]connection.remote-address': 'remoteAddress',
};

/** Import (module, name) -> canonical name. */
export function importName(module: string, name: string): ImportName | undefined {
  if (module === 'nbio:plugin/conn@0.1.0' || module === 'cm32p2|nbio:plugin/conn@0.1') {
    if (name === '[resource-drop]connection' || name === 'connection_drop') return 'drop';
    return CONN_METHODS[name];
  }
  if ((module === 'nbio:plugin/host@0.1.0' || module === 'cm32p2|nbio:plugin/host@0.1') && name === 'log') return 'log';
  return undefined;
}

const HANDLER_FUNCS: Record<string, ExportName> = {
  init: 'init', 'on-open': 'onOpen', 'on-data': 'onData', 'on-drain': 'onDrain', 'on-close': 'onClose',
};

/** Export name -> canonical name (the memory is `memory`), or undefined for any other export. */
export function exportName(name: string): ExportName | 'memory' | undefined {
  switch (name) {
    case 'memory':
    case 'cm32p2_memory':
      return 'memory';
    case 'cabi_realloc':
    case 'cm32p2_realloc':
      return 'realloc';
    case 'cabi_post_nbio:plugin/handler@0.1.0#init':
    case 'cm32p2|nbio:plugin/handler@0.1|init_post':
      return 'initPost';
    case '_initialize':
    case 'cm32p2_initialize':
      return 'initialize';
  }
  const legacy = /^nbio:plugin\/handler@0\.1\.0#([a-z-]+)$/.exec(name);
  const current = /^cm32p2\|nbio:plugin\/handler@0\.1\|([a-z-]+)$/.exec(name);
  const fn = (legacy ?? current)?.[1];
  return fn === undefined ? undefined : HANDLER_FUNCS[fn];
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
    const want = IMPORTS[importName(i.module, i.name)!];
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
