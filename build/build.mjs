#!/usr/bin/env node
// Builds everything, in order, failing loudly (non-zero exit) on any error:
//   0. the layout shared by reactor and host, from the WIT (build/abi.mjs)
//                                 -> assembly/generated/abi.ts, host/generated/abi.ts
//   1. asc assembly/index.ts      -> dist/wasm/reactor.core.wasm (+ .wat)
//   2. embed wit (world reactor) + component new
//                                 -> dist/wasm/reactor.component.wasm
//   3. jco transpile (sync instantiation, name reactor) -> dist/jco/
//   4. the WASI 0.2 components (build-wasi.mjs): the reactor over
//      wasi:sockets (dist/wasm/reactor-wasi.component.wasm) and the command
//      servers of examples/wasi/ (dist/wasm/echo-server.wasm, ...)
//   5. tsc -p .                   -> dist/host, dist/examples
//   6. plugins/ (build/plugins.mjs) -> dist/plugins/NAME.wasm
// Flags: --wasm-only skips steps 5 and 6.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { buildPlugins } from "./plugins.mjs";
import { buildWasi } from "./build-wasi.mjs";
import { writeAbi } from "./abi.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
const out = (...p) => join(root, "dist", ...p);
const wasmOnly = process.argv.includes("--wasm-only");

export const CORE = out("wasm", "reactor.core.wasm");
export const COMPONENT = out("wasm", "reactor.component.wasm");

function step(name, fn) {
  const t0 = Date.now();
  process.stdout.write(`[build] ${name} ...\n`);
  return Promise.resolve(fn()).then((r) => {
    process.stdout.write(`[build] ${name} done (${Date.now() - t0} ms)\n`);
    return r;
  });
}

function fail(msg) {
  process.stderr.write(`[build] FAILED: ${msg}\n`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${[cmd, ...args].join(" ")} exited with ${r.status ?? r.signal}`);
}

async function compileCore() {
  mkdirSync(out("wasm"), { recursive: true });
  const { default: asc } = await import("assemblyscript/asc");
  const { error, stderr } = await asc.main(
    ["--config", join(root, "asconfig.json"), "--transform", join(root, "build", "wit-exports.mjs")],
    { stdout: process.stdout, stderr: process.stderr },
  );
  if (error) fail(`asc: ${error.message ?? error}\n${stderr?.toString?.() ?? ""}`);
  checkCoreImports(readFileSync(CORE));
}

/** The core module must import the sys interface only (no env.abort etc.). */
function checkCoreImports(bytes) {
  const mod = new WebAssembly.Module(bytes);
  const bad = WebAssembly.Module.imports(mod).filter((i) => i.module !== "nbio:engine/sys@0.1.0");
  if (bad.length) fail(`core module has foreign imports: ${bad.map((i) => `${i.module}.${i.name}`).join(", ")}`);
}

async function makeComponent() {
  const { componentEmbed, componentNew } = await import("@bytecodealliance/jco");
  const witSource = readFileSync(join(root, "wit", "nbio-engine.wit"), "utf8");
  // JS API with an explicit world (the CLI's embed cannot open the WIT file
  // without a preopen, and ignores its world flag).
  const embedded = await componentEmbed({ binary: readFileSync(CORE), witSource, world: "reactor" });
  const component = await componentNew(embedded);
  writeFileSync(COMPONENT, component);
}

function transpile() {
  rmSync(out("jco"), { recursive: true, force: true });
  // dist/api.js (the package entry) sits beside the CLI, dist/jco.js.
  const jco = join(dirname(fileURLToPath(import.meta.resolve("@bytecodealliance/jco"))), "jco.js");
  run(process.execPath, [jco, "transpile", COMPONENT, "--instantiation", "sync", "--name", "reactor",
    "-o", out("jco"), "--quiet"]);
}

function typescript() {
  const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc");
  run(process.execPath, [tsc, "-p", root]);
}

await step("abi  wit/*.wit -> assembly/generated/abi.ts, host/generated/abi.ts", () => {
  try {
    writeAbi();
  } catch (err) {
    fail(err.message);
  }
});
await step("asc  assembly/index.ts -> dist/wasm/reactor.core.wasm", compileCore);
await step("jco  embed + new -> dist/wasm/reactor.component.wasm", makeComponent);
await step("jco  transpile -> dist/jco", transpile);
await step("wasi components -> dist/wasm/reactor-wasi.component.wasm, examples/wasi/*", () =>
  buildWasi().catch((err) => fail(err.message)));
if (!wasmOnly) await step("tsc  -p .", typescript);
if (!wasmOnly) await step("plugins -> dist/plugins", () => buildPlugins());
const size = (f) => statSync(f).size;
process.stdout.write(`[build] core ${size(CORE)} B, component ${size(COMPONENT)} B\n`);
