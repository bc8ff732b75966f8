// Builds the single WIT source that jco's componentEmbed takes (it cannot
// read a directory: its file system has no preopens). The project's files
// share one package, nbio:engine; the pinned WASI packages under wit/deps/
// are appended as nested `package x:y@v { ... }` blocks.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGE_LINE = /^\s*package\s+([^;{\s]+)\s*;\s*$/m;

/** The body of a WIT file without its `package ...;` line, and that package's name. */
function splitPackage(text, file) {
  const m = PACKAGE_LINE.exec(text);
  if (!m) throw new Error(`${file}: no package declaration`);
  return { name: m[1], body: text.slice(0, m.index) + text.slice(m.index + m[0].length) };
}

/**
 * The WIT of `files` (paths relative to `witDir`, all of one package) plus,
 * if `withDeps`, every package under `witDir/deps/*` nested in it.
 */
export function witSource(witDir, files, { withDeps = false } = {}) {
  const parts = files.map((f) => splitPackage(readFileSync(join(witDir, f), 'utf8'), f));
  const names = new Set(parts.map((p) => p.name));
  if (names.size !== 1) throw new Error(`WIT files of different packages: ${[...names].join(', ')}`);
  let source = `package ${parts[0].name};\n${parts.map((p) => p.body).join('\n')}`;
  if (withDeps) {
    const depsDir = join(witDir, 'deps');
    for (const dep of readdirSync(depsDir).sort()) {
      for (const file of readdirSync(join(depsDir, dep)).filter((f) => f.endsWith('.wit')).sort()) {
        const { name, body } = splitPackage(readFileSync(join(depsDir, dep, file), 'utf8'), `deps/${dep}/${file}`);
        source += `\npackage ${name} {\n${body}\n}\n`;
      }
    }
  }
  return source;
}
