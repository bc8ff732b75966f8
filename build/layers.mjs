#!/usr/bin/env node
// The import rules of the sources, checked over their import statements:
//   - no circle of imports among the files of host/ or assembly/;
//   - a folder of host/ imports only the folders its README.md allows, on
//     its line "May import: a, b, c" (folder names relative to host/;
//     "nothing" for none). The files of host/ itself are the entry points
//     and may import any folder.
// Type-only imports count too: TypeScript erases them, but a reader follows
// them like any other, and two types that name each other across files are
// a circle all the same.
// Run `node build/layers.mjs` to print what is wrong (exit 1) or the
// folders' import counts; test/build/layers.test.ts runs it in `npm test`.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Every .ts file under `dir`, skipping node_modules and native build output. */
function sources(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (name === "node_modules" || name === "build" || name === "prebuilds") continue;
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** `text` with its comments blanked out (strings and template literals kept as they are). */
function withoutComments(text) {
  let out = "";
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
      out += " ";
    } else if (c === "'" || c === '"' || c === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC = /(?:^|[;\n}])\s*(?:import|export)\s[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/g;
const BARE = /(?:^|[;\n}])\s*import\s*['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The files a source file imports (relative imports only, as absolute paths; `import type` included). */
export function importsOf(file, text = readFileSync(file, "utf8")) {
  const code = withoutComments(text);
  const found = [];
  const add = (spec) => {
    if (!spec.startsWith(".")) return;
    let to = resolve(dirname(file), spec);
    if (to.endsWith(".js")) to = to.slice(0, -3) + ".ts";
    else if (!to.endsWith(".ts")) to = existsSync(to + ".ts") ? to + ".ts" : join(to, "index.ts");
    found.push(to);
  };
  for (const m of code.matchAll(STATIC)) add(m[1]);
  for (const m of code.matchAll(BARE)) add(m[1]);
  for (const m of code.matchAll(DYNAMIC)) add(m[1]);
  return found;
}

/** The circles of a graph (Map file -> files), each as a path that ends where it starts. */
export function circles(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  let counter = 0;
  const visit = (v) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(cycleThrough(graph, new Set(component), v));
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** One circle inside a strongly connected `component`, from `start` back to it (breadth first). */
function cycleThrough(graph, component, start) {
  const from = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = from.get(u)) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** The folders `folder` (relative to host/, "" for host/ itself) may import, from its README.md; undefined: any. */
function allowedImports(hostDir, folder) {
  if (folder === "") return undefined;
  const readme = join(hostDir, folder, "README.md");
  if (!existsSync(readme)) return null;
  const line = readFileSync(readme, "utf8").match(/^May import: (.*)$/m);
  if (!line) return null;
  const names = line[1].trim().replace(/\.$/, "");
  return new Set(names === "nothing" ? [] : names.split(",").map((n) => n.trim().replace(/`/g, "").replace(/\/$/, "")));
}

/**
 * Checks the tree at `root` (a checkout of the package). Returns the
 * problems found, as sentences; an empty list means the rules hold.
 */
export function checkLayers(root) {
  const problems = [];
  const name = (file) => relative(root, file).split(sep).join("/");
  for (const top of ["host", "assembly"]) {
    const dir = join(root, top);
    const graph = new Map();
    const edges = [];
    for (const file of sources(dir)) {
      const imports = importsOf(file);
      graph.set(file, imports);
      for (const to of imports) edges.push({ from: file, to });
    }
    for (const circle of circles(graph)) problems.push(`import circle: ${circle.map(name).join(" -> ")}`);
    if (top !== "host") continue;
    const folderOf = (file) => relative(dir, dirname(file)).split(sep).join("/");
    const rules = new Map();
    for (const { from, to } of edges) {
      const source = folderOf(from);
      const target = folderOf(to);
      if (source === target || target.startsWith("..")) continue;
      if (!rules.has(source)) rules.set(source, allowedImports(dir, source));
      const allowed = rules.get(source);
      if (allowed === null) problems.push(`host/${source}/README.md has no line "May import: ..." (needed by ${name(from)})`);
      else if (allowed !== undefined && !allowed.has(target)) {
        problems.push(`${name(from)} imports ${name(to)}: host/${source}/README.md does not allow host/${target}/`);
      }
    }
  }
  return [...new Set(problems)];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const problems = checkLayers(root);
  for (const p of problems) process.stderr.write(`${p}\n`);
  if (problems.length > 0) process.exit(1);
  process.stdout.write("layers: no import circle in host/ or assembly/; every host/ folder imports only what its README allows\n");
}
