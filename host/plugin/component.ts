/**
 * Loading a plugin component: the engine runs the component's core module
 * itself (with the canonical-ABI host functions of `abi.ts`), so it takes
 * the core module that implements the plugin world out of the component.
 *
 * A component made from one core module (what `jco new` / wit-component
 * make of an AssemblyScript, C or Rust plugin) holds that module plus small
 * glue modules of wit-component's own (indirect-call shims), which the
 * engine does not need. The plugin's module is the one that exports the
 * handler functions.
 */
import { NbioError } from '../api/errors.js';
import { COMPONENT_PREAMBLE, CORE_PREAMBLE, hasPreamble, Reader, sections } from './binary.js';
import { exportName } from './world.js';

/** Largest plugin component accepted, in bytes. */
export const MAX_COMPONENT_BYTES = 64 * 1024 * 1024;

const CORE_MODULE_SECTION = 1;
const EXPORT_SECTION = 7;

function loadError(message: string): NbioError {
  return new NbioError('ERR_NBIO_PLUGIN_LOAD', `plugin refused: ${message}`);
}

/** Export names of a core module. */
function coreExports(module: Uint8Array): string[] {
  const names: string[] = [];
  for (const s of sections(module)) {
    if (s.id !== EXPORT_SECTION) continue;
    const r = new Reader(module, s.start, s.end);
    for (let n = r.u32(); n > 0; n--) {
      names.push(r.name());
      r.byte();
      r.u32();
    }
  }
  return names;
}

/**
 * The core module of a plugin component. Throws ERR_NBIO_PLUGIN_LOAD for
 * anything that is not a component holding exactly one core module that
 * exports the plugin world's handler.
 */
export function pluginCoreModule(component: Uint8Array): Uint8Array {
  if (component.length > MAX_COMPONENT_BYTES) throw loadError(`it is larger than ${MAX_COMPONENT_BYTES} bytes`);
  if (hasPreamble(component, CORE_PREAMBLE)) {
    throw loadError('this is a core WebAssembly module, not a component: make it one with `jco new` (see build/plugins.mjs)');
  }
  if (!hasPreamble(component, COMPONENT_PREAMBLE)) throw loadError('this is not a WebAssembly component');
  try {
    const modules = sections(component)
      .filter((s) => s.id === CORE_MODULE_SECTION)
      .map((s) => component.subarray(s.start, s.end));
    const handlers = modules.filter((m) => coreExports(m).some((name) => exportName(name) === 'onData'));
    if (handlers.length !== 1) {
      throw loadError(`it must hold one core module exporting nbio:plugin/handler, it holds ${handlers.length}`);
    }
    return handlers[0];
  } catch (err) {
    if (err instanceof RangeError) throw loadError(`the component is malformed (${err.message})`);
    throw err;
  }
}
