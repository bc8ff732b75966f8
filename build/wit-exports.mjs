// asc transform: gives the core exports the names the component model
// expects. AssemblyScript identifiers cannot contain ':', '/', '@' or '#',
// so the guest exports `<iface>$<fn_name>` and this renames, after
// compilation, e.g. `engine$run_once` -> `nbio:engine/engine@0.1.0#run-once`.
// Exports without a known `<iface>$` prefix (memory, cabi_realloc) are kept.
// The WASI builds add `net$` (nbio:engine/net) and `run$run` (wasi:cli/run).
import { Transform } from "assemblyscript/transform";

export const INTERFACES = {
  engine: "nbio:engine/engine@0.1.0",
  handler: "nbio:plugin/handler@0.1.0",
  net: "nbio:engine/net@0.1.0",
  run: "wasi:cli/run@0.2.12",
};

/** Maps an AssemblyScript export name to its component core name, or null. */
export function witExportName(name) {
  const m = /^([A-Za-z0-9]+)\$([A-Za-z0-9_]+)$/.exec(name);
  if (!m || !(m[1] in INTERFACES)) return null;
  return `${INTERFACES[m[1]]}#${m[2].replace(/_/g, "-")}`;
}

export default class WitExports extends Transform {
  afterCompile(module) {
    const binaryen = this.binaryen;
    const renames = [];
    for (let i = 0, n = module.getNumExports(); i < n; i++) {
      const info = binaryen.getExportInfo(module.getExportByIndex(i));
      if (info.kind !== binaryen.ExternalFunction) continue;
      const target = witExportName(info.name);
      if (target) renames.push([info.name, info.value, target]);
    }
    for (const [name, internal, target] of renames) {
      module.removeExport(name);
      module.addFunctionExport(internal, target);
    }
  }
}
