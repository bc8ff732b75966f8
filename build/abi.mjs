#!/usr/bin/env node
// The reactor's binary layout, from one definition: the WIT files.
//
// Everything the reactor (assembly/) and the Node host (host/) must agree on
// bit for bit is declared once, in wit/nbio-engine.wit and wit/nbio-wasi.wit
// (and the plugin world's enums, in wit/nbio-plugin.wit, for the plugin host):
// the numbers of every enum (event kinds, failed calls, close causes), the
// canonical-ABI layout of every record (an event, a readiness report, the
// stats) and variant (the results of `read`, `epoll-wait`, ...). The one
// thing the WIT can only say in words, how a connection handle packs its
// descriptor and generation, is defined here ({@link HANDLE}) and checked
// against the WIT's words. This script writes three modules, before
// anything is compiled (build/build.mjs runs it first):
//
//   assembly/generated/abi.ts   AssemblyScript constants (EVENT_KIND_DATA,
//                                EVENT_SIZE, EVENT_CONN_OFFSET, ...)
//   host/generated/abi.ts       TypeScript objects (EventKind.Data,
//                                EventLayout.conn, ...)
//   host/generated/plugin.ts    the plugin world's calls at the core-module
//                                level (build/abi-plugin.mjs)
//
// All are generated (not committed): a change to the WIT changes every side
// at the next build, so they cannot drift apart. Naming:
//
//   enum E { a-b, ... }         AS: E_A_B (u8, or wider for long enums)
//                                TS: E = { AB: 0, ... }
//   record R { f: T, ... }      AS: R_SIZE, R_ALIGN, R_F_OFFSET
//                                TS: RLayout = { size, align, f: offset }
//   variant V { c(T), ... }     AS: V_SIZE, V_ALIGN, V_PAYLOAD_OFFSET, V_C (the discriminant)
//                                TS: VLayout = { size, align, payload, c: discriminant }
//   list<T> (any)               AS: LIST_SIZE, LIST_PTR_OFFSET, LIST_LEN_OFFSET; TS: ListLayout
//
// Layouts follow the component model's canonical ABI (size and alignment of
// each type, fields in order, each at the next multiple of its alignment).
// Only what the WIT files use is supported; anything else stops the build
// with the name of what is missing.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PLUGIN_WIT, pluginModule } from "./abi-plugin.mjs";
import { defLayout } from "./canonical-abi.mjs";
import { camel, parseWit, pascal, upperSnake } from "./wit-parser.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The WIT files the layout is generated from, and the interfaces of each that cross the boundary. */
export const SOURCES = [
  { file: "wit/nbio-engine.wit", interfaces: ["sys", "engine"] },
  { file: "wit/nbio-wasi.wit", interfaces: ["net"] },
  { file: "wit/nbio-plugin.wit", interfaces: ["host", "handler"] },
];

/**
 * How a connection handle (a u32) packs its descriptor and generation: the
 * descriptor in the low `fdBits`, the generation (1..2^generationBits - 1,
 * never 0) above it; bit 31 stays clear so that a handle is positive as an
 * s32 (`add-conn` returns "handle > 0 or -errno"). A UDP peer, which has no
 * descriptor of its own, is named by a handle with bit `peerBit` set and an
 * index into the reactor's peer table where the descriptor would be (peer
 * handles only travel in events and as arguments). The WIT says this in
 * words ({@link checkHandleWords} holds it to them).
 */
export const HANDLE = { fdBits: 20, generationBits: 11, peerBit: 31 };

export const OUTPUTS = {
  assembly: join(root, "assembly", "generated", "abi.ts"),
  host: join(root, "host", "generated", "abi.ts"),
  plugin: join(root, "host", "generated", "plugin.ts"),
};

// ---- the model both outputs are written from ----

/** The WIT's engine interface must describe handles as {@link HANDLE} does. */
function checkHandleWords(src, file) {
  const words = [`low ${HANDLE.fdBits} bits`, `(1..${2 ** HANDLE.generationBits - 1})`, `has its bit ${HANDLE.peerBit} set`];
  const flat = src.replace(/\s*\n\s*(\/\/\/)?\s*/g, " ");
  for (const w of words) {
    if (!flat.includes(w)) throw new Error(`${file}: the handle layout of build/abi.mjs (HANDLE) says '${w}', the WIT does not`);
  }
}

/** Every type of the listed interfaces, with its layout, in declaration order. */
export function abiModel(readSource = (file) => readFileSync(join(root, file), "utf8")) {
  const defs = [];
  const seen = new Map();
  for (const { file, interfaces } of SOURCES) {
    const src = readSource(file);
    if (interfaces.includes("engine")) checkHandleWords(src, file);
    const parsed = parseWit(src, file);
    for (const iface of interfaces) {
      const found = parsed.get(iface);
      if (found === undefined) throw new Error(`${file}: no interface ${iface}`);
      for (const def of found.types.values()) {
        const where = `${file} ${iface}.${def.name}`;
        if (seen.has(def.name)) throw new Error(`build/abi.mjs: ${where} and ${seen.get(def.name)} would generate the same names`);
        seen.set(def.name, where);
        defs.push({ ...def, iface, layout: defLayout(def, found.types) });
      }
    }
  }
  return defs;
}

// ---- AssemblyScript ----

const AS_INT = { 1: "u8", 2: "u16", 4: "u32" };

/** `doc` as a doc comment (or, with `plain`, line comments), wrapped at 100 columns. */
function docLine(doc, indent = "", plain = false) {
  if (!doc) return "";
  const text = doc.replace(/\*\//g, "* /");
  const lead = plain ? `${indent}// ` : `${indent} * `;
  const lines = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && lead.length + line.length + 1 + word.length > 100) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  if (plain) return lines.map((l) => `${lead}${l}\n`).join("");
  if (lines.length === 1 && indent.length + lines[0].length + 7 <= 100) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${lead}${l}\n`).join("")}${indent} */\n`;
}

function assemblyOf(defs) {
  let out = `${HEADER}\n`;
  out += "\n// ---- engine connection handles: | 0 | generation | fd | (build/abi.mjs HANDLE) ----\n";
  out += `export const FD_BITS: u32 = ${HANDLE.fdBits};\n`;
  out += `export const FD_MASK: u32 = ${hex(2 ** HANDLE.fdBits - 1)};\n`;
  out += "/** Descriptors a handle can name: 0 .. MAX_FDS - 1. */\n";
  out += `export const MAX_FDS: i32 = ${hex(2 ** HANDLE.fdBits)};\n`;
  out += "/** Largest generation; generations run 1..GEN_MAX, then wrap to 1. */\n";
  out += `export const GEN_MAX: u32 = ${2 ** HANDLE.generationBits - 1};\n`;
  out += "/** Set in the handles of UDP peers (an index into the peer table in place of the fd). */\n";
  out += `export const PEER_BIT: u32 = ${hex(2 ** HANDLE.peerBit)};\n\n`;
  out += "/** Any list<T> in memory, e.g. a list result's return area: {ptr, len}. */\n";
  out += "export const LIST_SIZE: usize = 8;\nexport const LIST_ALIGN: usize = 4;\n";
  out += "export const LIST_PTR_OFFSET: usize = 0;\nexport const LIST_LEN_OFFSET: usize = 4;\n";
  for (const def of defs) {
    const P = upperSnake(def.name);
    out += `\n// ---- ${def.iface}.${def.name} (${def.kind}, ${describe(def)}) ----\n`;
    out += docLine(def.doc, "", true);
    if (def.kind === "enum") {
      const t = AS_INT[def.layout.whole.size];
      def.items.forEach((c, i) => {
        out += docLine(c.doc);
        out += `export const ${P}_${upperSnake(c.name)}: ${t} = ${i};\n`;
      });
      out += `/** Number of cases. */\nexport const ${P}_COUNT: u32 = ${def.items.length};\n`;
      continue;
    }
    out += `export const ${P}_SIZE: usize = ${def.layout.whole.size};\n`;
    out += `export const ${P}_ALIGN: usize = ${def.layout.whole.align};\n`;
    if (def.kind === "record") {
      def.items.forEach((f, i) => {
        out += docLine(`${f.type.kind === "list" ? "list" : f.type.name}${f.doc ? `: ${f.doc}` : ""}`);
        out += `export const ${P}_${upperSnake(f.name)}_OFFSET: usize = ${def.layout.offsets[i]};\n`;
      });
      for (const { field, max } of listBounds(def)) {
        out += `/** Most entries of \`${field}\` (its WIT doc's bound). */\nexport const ${P}_${upperSnake(field)}_MAX: i32 = ${max};\n`;
      }
    } else {
      out += `export const ${P}_PAYLOAD_OFFSET: usize = ${def.layout.payload};\n`;
      def.items.forEach((c, i) => {
        out += docLine(c.doc);
        out += `export const ${P}_${upperSnake(c.name)}: ${AS_INT[def.layout.discriminant]} = ${i};\n`;
      });
    }
  }
  return out;
}

// ---- TypeScript (host) ----

function hostOf(defs) {
  let out = `${HEADER}\n`;
  out += "\n/** Bits of a connection handle that hold its descriptor (a generation number is above them). */\n";
  out += `export const FD_BITS = ${HANDLE.fdBits};\n`;
  out += `export const FD_MASK = ${hex(2 ** HANDLE.fdBits - 1)};\n`;
  out += "/** Largest generation of a handle; generations run 1..GEN_MAX, then wrap to 1. */\n";
  out += `export const GEN_MAX = ${2 ** HANDLE.generationBits - 1};\n`;
  out += "/** Set in the handles of UDP peers (an index into the peer table in place of the fd). */\n";
  out += `export const PEER_BIT = ${hex(2 ** HANDLE.peerBit)};\n\n`;
  out += "/** Any list<T> in memory, e.g. a list result's return area: {ptr, len}. */\n";
  out += "export const ListLayout = { size: 8, align: 4, ptr: 0, len: 4 } as const;\n";
  for (const def of defs) {
    const N = pascal(def.name);
    out += `\n// ---- ${def.iface}.${def.name} (${def.kind}, ${describe(def)}) ----\n`;
    if (def.kind === "enum") {
      out += docLine(def.doc);
      out += `export const ${N} = {\n`;
      def.items.forEach((c, i) => {
        out += docLine(c.doc, "  ");
        out += `  ${pascal(c.name)}: ${i},\n`;
      });
      out += "} as const;\n";
      out += `export type ${N} = (typeof ${N})[keyof typeof ${N}];\n`;
      continue;
    }
    out += docLine(`Canonical-ABI layout of ${def.iface}.${def.name}: byte offsets${def.doc ? `. ${def.doc}` : ""}`);
    out += `export const ${N}Layout = {\n  size: ${def.layout.whole.size},\n  align: ${def.layout.whole.align},\n`;
    // The layout object names its own size, alignment and payload offset.
    const taken = def.items.map((item) => camel(item.name)).find((n) => ["size", "align", "payload"].includes(n));
    if (taken !== undefined) throw new Error(`${def.iface}.${def.name}: a field or case named '${taken}' would clash with ${N}Layout.${taken}; rename it in the WIT`);
    if (def.kind === "record") {
      def.items.forEach((f, i) => {
        out += docLine(`${f.type.kind === "list" ? "list" : f.type.name}${f.doc ? `: ${f.doc}` : ""}`, "  ");
        out += `  ${camel(f.name)}: ${def.layout.offsets[i]},\n`;
      });
    } else {
      out += `  /** Offset of the case's payload. */\n  payload: ${def.layout.payload},\n`;
      def.items.forEach((c, i) => {
        out += docLine(`Discriminant (a u${def.layout.discriminant * 8} at offset 0)${c.doc ? `: ${c.doc}` : ""}`, "  ");
        out += `  ${camel(c.name)}: ${i},\n`;
      });
    }
    out += "} as const;\n";
    const bounds = def.kind === "record" ? listBounds(def) : [];
    if (bounds.length > 0) {
      out += `/** Most entries of the lists of ${def.iface}.${def.name} (their WIT docs' bounds). */\n`;
      out += `export const ${N}Bounds = { ${bounds.map((b) => `${camel(b.field)}: ${b.max}`).join(", ")} } as const;\n`;
    }
  }
  return out;
}

/**
 * The bounds of a record's list fields whose WIT doc says "at most N
 * entries": the one place both sides take the number from.
 */
function listBounds(def) {
  return def.items
    .map((f) => ({ field: f.name, bound: f.type.kind === "list" ? /\bat most (\d+) entries\b/.exec(f.doc ?? "") : null }))
    .filter((f) => f.bound !== null)
    .map((f) => ({ field: f.field, max: Number(f.bound[1]) }));
}

const hex = (n) => `0x${n.toString(16)}`;

function describe(def) {
  if (def.kind === "enum") return `${def.items.length} cases, u${def.layout.whole.size * 8}`;
  return `${def.layout.whole.size} bytes, align ${def.layout.whole.align}`;
}

const HEADER = `// Generated by build/abi.mjs from ${SOURCES.map((s) => s.file).join(" and ")}: do not edit.
// The numbers and canonical-ABI layouts the reactor and the host share.`;

/** The text of the generated modules: the shared layout for both sides, and the plugin world's calls for the host. */
export function generateAbi(readSource = (file) => readFileSync(join(root, file), "utf8")) {
  const defs = abiModel(readSource);
  return { assembly: assemblyOf(defs), host: hostOf(defs), plugin: pluginModule(readSource(PLUGIN_WIT)) };
}

/** Writes the generated modules (only when their text changed, so that nothing rebuilds for nothing). */
export function writeAbi() {
  const generated = generateAbi();
  for (const [side, path] of Object.entries(OUTPUTS)) {
    mkdirSync(dirname(path), { recursive: true });
    let old;
    try {
      old = readFileSync(path, "utf8");
    } catch {
      old = undefined;
    }
    if (old !== generated[side]) writeFileSync(path, generated[side]);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeAbi();
