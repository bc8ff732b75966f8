// The plugin world at the level of a plugin's core module, from one
// definition: wit/nbio-plugin.wit, world connection-plugin. For every
// function a plugin imports (the `connection` methods, its drop, `log`) and
// exports (`init`, `on-open`, ...): its core module and name, in both
// manglings toolchains use (the component model's first one,
// `nbio:plugin/conn@0.1.0` + `[method]connection.write`, and the
// "cm32p2" one, `cm32p2|nbio:plugin/conn@0.1`), how many i32 values its
// lowered signature takes and returns, and, when its results do not fit in
// one value, the layout of the return area they go through. build/abi.mjs
// writes it as host/generated/plugin.ts for the plugin host (host/plugin/).
import { flatCount, layoutOf, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS, defLayout, resultDef } from "./canonical-abi.mjs";
import { camel, parseWitFile } from "./wit-parser.mjs";

export const PLUGIN_WIT = "wit/nbio-plugin.wit";
const WORLD = "connection-plugin";

/** The version as "cm32p2" names carry it: major.minor for 0.x, else the major. */
function shortVersion(version) {
  const [major, minor] = version.split(".");
  return major === "0" ? `${major}.${minor}` : major;
}

/**
 * The lowered signature of `fn`: its parameters flattened (a method's
 * `self` handle first); results that flatten to more than one value go
 * through a return area: for an import the caller passes its address as
 * a last parameter, an export returns its address.
 */
function lowered(fn, iface, handles, direction) {
  const params = (fn.resource === undefined ? 0 : 1) + fn.params.reduce((n, p) => n + flatCount(p.type, iface.types, handles), 0);
  if (params > MAX_FLAT_PARAMS) throw new Error(`${PLUGIN_WIT}: ${fn.name} takes more than ${MAX_FLAT_PARAMS} values; parameters in memory are not supported yet`);
  const flatResults = flatCount(fn.result, iface.types, handles);
  if (flatResults <= MAX_FLAT_RESULTS) return { params, results: flatResults, returnArea: undefined };
  const returnArea = returnAreaOf(fn.result, iface.types);
  return direction === "import" ? { params: params + 1, results: 0, returnArea } : { params, results: 1, returnArea };
}

/** Where the parts of a result that went to memory are: a string or list's {ptr, len}, or a result's case and payload. */
function returnAreaOf(type, types) {
  const { size, align } = layoutOf(type, types);
  if (type.kind === "list" || type.name === "string") return { size, align, ptr: 0, len: 4 };
  if (type.kind === "result") {
    const { payload } = defLayout(resultDef(type), types);
    if (type.err !== undefined && type.err.name !== "string") throw new Error(`${PLUGIN_WIT}: only result<_, string> is supported in return areas yet`);
    return { size, align, discriminant: 0, ok: 0, error: 1, payload, errorPtr: payload, errorLen: payload + 4 };
  }
  throw new Error(`${PLUGIN_WIT}: no return-area layout for ${type.kind === "name" ? type.name : type.kind} yet`);
}

/** The model of the plugin world's calls: { imports: { name -> entry }, exports: { name -> entry } }. */
export function pluginModel(src) {
  const { package: pkg, interfaces, worlds } = parseWitFile(src, PLUGIN_WIT);
  const world = worlds.get(WORLD);
  if (world === undefined) throw new Error(`${PLUGIN_WIT}: no world ${WORLD}`);
  const short = shortVersion(pkg.version);
  const iface = (name) => {
    const found = interfaces.get(name);
    if (found === undefined) throw new Error(`${PLUGIN_WIT}: world ${WORLD} names interface ${name}, which it does not define`);
    return found;
  };
  const handles = [...interfaces.values()].flatMap((i) => i.resources);
  const imports = {};
  const add = (table, key, entry) => {
    if (key in table) throw new Error(`${PLUGIN_WIT}: two functions of ${WORLD} would be called ${key}`);
    table[key] = entry;
  };
  for (const name of world.imports) {
    const modules = [`${pkg.name}/${name}@${pkg.version}`, `cm32p2|${pkg.name}/${name}@${short}`];
    for (const fn of iface(name).functions) {
      const core = fn.resource === undefined ? fn.name : `[method]${fn.resource}.${fn.name}`;
      add(imports, camel(fn.name), { modules, names: [core, core], ...lowered(fn, iface(name), handles, "import") });
    }
    for (const resource of iface(name).resources) {
      const drop = { params: 1, results: 0, returnArea: undefined };
      add(imports, iface(name).resources.length === 1 ? "drop" : camel(`${resource}-drop`),
        { modules, names: [`[resource-drop]${resource}`, `${resource}_drop`], ...drop });
    }
  }
  const exports = {};
  for (const name of world.exports) {
    const legacy = `${pkg.name}/${name}@${pkg.version}#`;
    const current = `cm32p2|${pkg.name}/${name}@${short}|`;
    for (const fn of iface(name).functions) {
      const entry = { names: [legacy + fn.name, current + fn.name], ...lowered(fn, iface(name), handles, "export") };
      if (entry.returnArea !== undefined) entry.postReturn = [`cabi_post_${legacy}${fn.name}`, `${current}${fn.name}_post`];
      add(exports, camel(fn.name), entry);
    }
  }
  return { imports, exports };
}

/** host/generated/plugin.ts: the model as TypeScript objects. */
export function pluginModule(src) {
  const { imports, exports } = pluginModel(src);
  const strings = (list) => `[${list.map((s) => `'${s}'`).join(", ")}]`;
  const entry = (e) => {
    const parts = [];
    if (e.modules) parts.push(`modules: ${strings(e.modules)}`);
    parts.push(`names: ${strings(e.names)}`);
    if (e.postReturn) parts.push(`postReturn: ${strings(e.postReturn)}`);
    parts.push(`params: ${e.params}`, `results: ${e.results}`);
    if (e.returnArea) parts.push(`returnArea: { ${Object.entries(e.returnArea).map(([k, v]) => `${k}: ${v}`).join(", ")} }`);
    return `{ ${parts.join(", ")} }`;
  };
  const table = (t) => Object.entries(t).map(([k, e]) => `  ${k}: ${entry(e)},\n`).join("");
  return `// Generated by build/abi.mjs (build/abi-plugin.mjs) from ${PLUGIN_WIT}, world ${WORLD}: do not edit.
// The plugin world at the core-module level: names in both manglings
// ([legacy, cm32p2]), lowered signatures (counts of i32 values) and return
// areas (byte offsets) of every function a plugin imports and exports.

/** The functions a plugin may import, by the host's name for them. */
export const PluginImports = {
${table(imports)}} as const;
export type PluginImportName = keyof typeof PluginImports;

/** The functions of the world a plugin exports, by the host's name for them. */
export const PluginExports = {
${table(exports)}} as const;
export type PluginExportName = keyof typeof PluginExports;
`;
}
