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
// against the WIT's words. This script writes two modules, before anything
// is compiled (build/build.mjs runs it first):
//
//   assembly/generated/abi.ts   AssemblyScript constants (EVENT_KIND_DATA,
//                                EVENT_SIZE, EVENT_CONN_OFFSET, ...)
//   host/generated/abi.ts       TypeScript objects (EventKind.Data,
//                                EventLayout.conn, ...)
//
// Both are generated (not committed): a change to the WIT changes both at
// the next build, so they cannot drift apart. Naming:
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
};

// ---- parsing (the subset of WIT the project uses) ----

/** Splits WIT source into tokens; `///` doc comments are kept as {doc} tokens. */
function tokenize(src, file) {
  const tokens = [];
  const re = /\s+|\/\/\/([^\n]*)|\/\/[^\n]*|\/\*[\s\S]*?\*\/|(->|[{}()<>,:;=@/.*])|([A-Za-z0-9_%][A-Za-z0-9_%-]*)/y;
  let m;
  while (re.lastIndex < src.length) {
    const at = re.lastIndex;
    m = re.exec(src);
    if (m === null) throw new Error(`${file}: cannot read WIT at offset ${at}: ${JSON.stringify(src.slice(at, at + 20))}`);
    if (m[1] !== undefined) tokens.push({ doc: m[1].trim() });
    else if (m[2] !== undefined || m[3] !== undefined) tokens.push({ t: m[2] ?? m[3] });
  }
  return tokens;
}

class Parser {
  constructor(tokens, file) {
    this.tokens = tokens;
    this.file = file;
    this.i = 0;
    this.docs = [];
  }
  /** The next token's text, collecting doc comments before it. */
  peek() {
    while (this.i < this.tokens.length && this.tokens[this.i].doc !== undefined) this.docs.push(this.tokens[this.i++].doc);
    return this.tokens[this.i]?.t;
  }
  next() {
    const t = this.peek();
    if (t === undefined) throw new Error(`${this.file}: unexpected end of WIT`);
    this.i++;
    return t;
  }
  expect(t) {
    const got = this.next();
    if (got !== t) throw new Error(`${this.file}: expected '${t}', found '${got}'`);
  }
  takeDocs() {
    this.peek();
    const d = this.docs.join(" ");
    this.docs = [];
    return d;
  }
  /** Skips a balanced {...} block (the opening brace is next). */
  skipBlock() {
    this.expect("{");
    for (let depth = 1; depth > 0; ) {
      const t = this.next();
      if (t === "{") depth++;
      else if (t === "}") depth--;
    }
  }
  /** A type expression: a name, or list<T>. */
  type() {
    const name = this.next();
    if (name === "list") {
      this.expect("<");
      const of = this.type();
      this.expect(">");
      return { kind: "list", of };
    }
    if (["option", "result", "tuple", "borrow", "own", "future", "stream"].includes(name)) {
      throw new Error(`${this.file}: build/abi.mjs does not support ${name}<...> yet`);
    }
    return { kind: "name", name };
  }
}

/** Parses one WIT file into its interfaces: { name -> { types: Map(name -> def) } }. */
export function parseWit(src, file) {
  const p = new Parser(tokenize(src, file), file);
  const interfaces = new Map();
  while (p.peek() !== undefined) {
    p.takeDocs();
    const kw = p.next();
    if (kw === "package") {
      while (p.next() !== ";");
    } else if (kw === "world") {
      p.next();
      p.skipBlock();
    } else if (kw === "interface") {
      const name = p.next();
      interfaces.set(name, parseInterface(p));
    } else {
      throw new Error(`${file}: unexpected '${kw}' at the top level`);
    }
  }
  return interfaces;
}

function parseInterface(p) {
  const types = new Map();
  p.expect("{");
  while (p.peek() !== "}") {
    const doc = p.takeDocs();
    const kw = p.next();
    if (kw === "record" || kw === "variant" || kw === "enum") {
      const name = p.next();
      const items = [];
      p.expect("{");
      while (p.peek() !== "}") {
        const itemDoc = p.takeDocs();
        const item = { name: p.next(), doc: itemDoc };
        if (kw === "record") {
          p.expect(":");
          item.type = p.type();
        } else if (kw === "variant" && p.peek() === "(") {
          p.next();
          item.type = p.type();
          p.expect(")");
        }
        items.push(item);
        if (p.peek() === ",") p.next();
      }
      p.expect("}");
      types.set(name, { kind: kw, name, doc, items });
    } else if (kw === "resource") {
      // A resource's methods declare no types: nothing to lay out.
      p.next();
      p.skipBlock();
    } else if (kw === "use") {
      // `use other.{name}`: a type of another interface (here, a resource
      // handle for function parameters); a record using it would stop the
      // build as an unknown type.
      while (p.next() !== ";");
    } else if (kw === "type" || kw === "flags") {
      throw new Error(`${p.file}: build/abi.mjs does not support '${kw}' in an interface yet`);
    } else {
      // A function: `name: func(...) -> ...;`
      while (p.next() !== ";");
    }
  }
  p.expect("}");
  return { types };
}

// ---- canonical ABI: size and alignment ----

const PRIMITIVES = {
  bool: [1, 1], u8: [1, 1], s8: [1, 1], u16: [2, 2], s16: [2, 2],
  u32: [4, 4], s32: [4, 4], f32: [4, 4], char: [4, 4],
  u64: [8, 8], s64: [8, 8], f64: [8, 8],
  string: [8, 4],
};

const alignTo = (n, a) => Math.ceil(n / a) * a;

/** Bytes of the discriminant of an enum or variant with `n` cases. */
function discriminantSize(n) {
  return n <= 0x100 ? 1 : n <= 0x10000 ? 2 : 4;
}

/** The canonical-ABI { size, align } of a type, resolving names in `types`. */
export function layoutOf(type, types) {
  if (type.kind === "list") return { size: 8, align: 4 };
  if (PRIMITIVES[type.name]) {
    const [size, align] = PRIMITIVES[type.name];
    return { size, align };
  }
  const def = types.get(type.name);
  if (def === undefined) throw new Error(`build/abi.mjs: unknown type '${type.name}'`);
  return defLayout(def, types).whole;
}

/** Size, alignment and member offsets of a record, variant or enum. */
function defLayout(def, types) {
  if (def.kind === "enum") {
    const d = discriminantSize(def.items.length);
    return { whole: { size: d, align: d } };
  }
  if (def.kind === "record") {
    let at = 0;
    let align = 1;
    const offsets = def.items.map((f) => {
      const l = layoutOf(f.type, types);
      at = alignTo(at, l.align);
      const offset = at;
      at += l.size;
      align = Math.max(align, l.align);
      return offset;
    });
    return { whole: { size: alignTo(at, align), align }, offsets };
  }
  const d = discriminantSize(def.items.length);
  let caseAlign = 1;
  let caseSize = 0;
  for (const c of def.items) {
    if (c.type === undefined) continue;
    const l = layoutOf(c.type, types);
    caseAlign = Math.max(caseAlign, l.align);
    caseSize = Math.max(caseSize, l.size);
  }
  const payload = alignTo(d, caseAlign);
  const align = Math.max(d, caseAlign);
  return { whole: { size: alignTo(payload + caseSize, align), align }, payload, discriminant: d };
}

// ---- the model both outputs are written from ----

const upperSnake = (wit) => wit.replace(/-/g, "_").toUpperCase();
const pascal = (wit) => wit.split("-").map((w) => w[0].toUpperCase() + w.slice(1)).join("");
const camel = (wit) => {
  const p = pascal(wit);
  return p[0].toLowerCase() + p.slice(1);
};

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

/** The text of both generated modules. */
export function generateAbi(readSource) {
  const defs = abiModel(readSource);
  return { assembly: assemblyOf(defs), host: hostOf(defs) };
}

/** Writes both generated modules (only when their text changed, so that nothing rebuilds for nothing). */
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
