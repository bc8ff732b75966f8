#!/usr/bin/env node
// Builds the example plugins into components, dist/plugins/NAME.wasm:
//   plugins/NAME/index.ts  (AssemblyScript, with plugins/sdk/assemblyscript)
//   plugins/NAME/plugin.c  (C, with plugins/sdk/c/nbio_plugin.h; needs clang,
//                           lld and wasi-libc, else dist/plugins/NAME.skipped
//                           says why and the build goes on)
// Each core module gets the world connection-plugin of wit/nbio-plugin.wit
// embedded and is made a component (jco). Run by build/build.mjs; tests use
// `componentize` to wrap their own modules the same way.
//   node build/plugins.mjs DIR OUT.wasm   builds the one plugin in DIR instead
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pluginsDir = join(root, "plugins");
export const PLUGINS_OUT = join(root, "dist", "plugins");
const WIT = join(root, "wit", "nbio-plugin.wit");
const WORLD = "connection-plugin";
/** The Debian packages a C plugin needs (the README and .ci/run install them). */
export const C_TOOLCHAIN = "clang lld wasi-libc libclang-rt-14-dev-wasm32";
const WASI_SYSROOT = "/usr";

/**
 * Wraps a core module implementing the plugin world into a component
 * (`witSource` and `world`: another world, for tests).
 */
export async function componentize(core, witSource = readFileSync(WIT, "utf8"), world = WORLD) {
  const { componentEmbed, componentNew } = await import("@bytecodealliance/jco");
  const embedded = await componentEmbed({ binary: core, witSource, world });
  return componentNew(embedded);
}

/** Compiles an AssemblyScript plugin entry to a core module (bytes). */
export async function compileAssemblyScript(entry) {
  const { default: asc } = await import("assemblyscript/asc");
  let binary;
  const errors = [];
  const { error } = await asc.main(
    // An explicit config: otherwise asc picks up the root asconfig.json (the reactor's).
    [entry, "--config", join(pluginsDir, "sdk", "assemblyscript", "asconfig.json"),
      "--transform", join(root, "build", "wit-exports.mjs"), "--outFile", "plugin.wasm"],
    {
      writeFile(name, contents) {
        if (name.endsWith(".wasm")) binary = contents;
      },
      stdout: { write: () => true },
      stderr: { write: (s) => errors.push(String(s)) },
    },
  );
  if (error || !binary) throw new Error(`asc ${entry}: ${error?.message ?? "no output"}\n${errors.join("")}`);
  return binary;
}

/** Why C plugins cannot be built here, or undefined when they can. */
export function cToolchainMissing() {
  const clang = spawnSync("clang", ["--version"], { encoding: "utf8" });
  if (clang.error || clang.status !== 0) return "clang is not installed";
  if (!existsSync(join(WASI_SYSROOT, "lib", "wasm32-wasi", "libc.a"))) return "wasi-libc is not installed";
  return undefined;
}

/** Compiles a C plugin to a core module (bytes). */
export function compileC(source) {
  const out = join(PLUGINS_OUT, `${Date.now()}-${process.pid}.core.wasm`);
  const r = spawnSync("clang", ["--target=wasm32-wasi", `--sysroot=${WASI_SYSROOT}`, "-O2", "-Wall", "-Werror",
    "-mexec-model=reactor", "-Wl,--strip-all", "-o", out, source], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`clang ${source}: ${r.error?.message ?? r.stderr}`);
  const core = readFileSync(out);
  rmSync(out);
  return core;
}

/**
 * Compiles the plugin in `dir` (an `index.ts` or a `plugin.c`) to a core
 * module: `{ core }`, `{ skipped: reason }` when C cannot be compiled here,
 * or undefined when `dir` holds neither.
 */
export async function compilePlugin(dir) {
  if (existsSync(join(dir, "index.ts"))) return { core: await compileAssemblyScript(join(dir, "index.ts")) };
  if (!existsSync(join(dir, "plugin.c"))) return undefined;
  const missing = cToolchainMissing();
  if (missing !== undefined) return { skipped: `${missing}: apt-get install -y ${C_TOOLCHAIN}` };
  return { core: compileC(join(dir, "plugin.c")) };
}

/** Builds every plugin under plugins/ (except the SDKs); returns what it wrote. */
export async function buildPlugins(log = (line) => process.stdout.write(`${line}\n`)) {
  mkdirSync(PLUGINS_OUT, { recursive: true });
  const built = [];
  for (const name of readdirSync(pluginsDir).sort()) {
    if (name === "sdk") continue;
    const target = join(PLUGINS_OUT, `${name}.wasm`);
    const skipped = join(PLUGINS_OUT, `${name}.skipped`);
    rmSync(skipped, { force: true });
    const compiled = await compilePlugin(join(pluginsDir, name));
    if (compiled === undefined) continue;
    if (compiled.skipped !== undefined) {
      rmSync(target, { force: true });
      writeFileSync(skipped, `${compiled.skipped}\n`);
      log(`[build] plugin ${name} (C) SKIPPED: ${compiled.skipped}`);
      continue;
    }
    const component = await componentize(compiled.core);
    writeFileSync(target, component);
    built.push(target);
    log(`[build] plugin ${name}: dist/plugins/${name}.wasm (${component.length} B)`);
  }
  return built;
}

/** `node build/plugins.mjs DIR OUT.wasm`: builds the one plugin in DIR. */
async function buildOne(dir, out) {
  const compiled = await compilePlugin(resolve(dir));
  if (compiled === undefined) throw new Error(`${dir} has neither an index.ts nor a plugin.c`);
  if (compiled.skipped !== undefined) throw new Error(`cannot build ${dir}: ${compiled.skipped}`);
  writeFileSync(out, await componentize(compiled.core));
  process.stdout.write(`[build] ${out}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dir, out] = process.argv.slice(2);
  if (dir !== undefined && out !== undefined) await buildOne(dir, out);
  else await buildPlugins();
}
