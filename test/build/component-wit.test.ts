// The built artifacts match the contract: the component imports only
// nbio:engine/sys and exports nbio:engine/engine with every function of
// wit/nbio-engine.wit; the core module imports exactly the 13 sys
// functions and exports memory, cabi_realloc and the engine functions.
// Needs `node build/build.mjs` (or `--wasm-only`) to have run.
import { describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { componentWit, transpile } from '@bytecodealliance/jco';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const core = join(root, 'dist', 'wasm', 'reactor.core.wasm');
const component = join(root, 'dist', 'wasm', 'reactor.component.wasm');
const witSrc = readFileSync(join(root, 'wit', 'nbio-engine.wit'), 'utf8');

/** `name: func(...)` declarations inside `interface <name> { ... }`. */
function witFuncs(src: string, iface: string): string[] {
  const start = src.indexOf(`interface ${iface} {`);
  expect(start).toBeGreaterThanOrEqual(0);
  let depth = 0, i = src.indexOf('{', start);
  const from = i;
  for (; i < src.length; i++) {
    if (src[i] === '{') depth++;
    else if (src[i] === '}' && --depth === 0) break;
  }
  const body = src.slice(from, i).split('\n').filter((l) => !l.trim().startsWith('//')).join('\n');
  return [...body.matchAll(/^\s*([a-z][a-z0-9-]*)\s*:\s*func\b/gm)].map((m) => m[1]).sort();
}

const SYS_FUNCS = ['accept', 'close', 'epoll-create', 'epoll-ctl', 'epoll-wait', 'read', 'recv-from',
  'send-file', 'send-to', 'set-no-delay', 'shutdown', 'socket-error', 'write', 'writev'];
const ENGINE_FUNCS = ['add-acceptor', 'add-conn', 'add-datagram', 'add-listener', 'backlog', 'buffered-amount',
  'close', 'close-write', 'conn-count', 'end', 'init', 'memory-in-use', 'pause-reading', 'remove-listener',
  'resume-listener', 'resume-reading', 'run-once', 'shutdown', 'stats', 'take-events', 'write', 'write-file'];

describe('built artifacts', () => {
  it('exist (run node build/build.mjs first)', () => {
    expect(existsSync(core)).toBe(true);
    expect(existsSync(component)).toBe(true);
  });

  it('the WIT file declares the functions this test expects', () => {
    expect(witFuncs(witSrc, 'sys')).toEqual(SYS_FUNCS);
    expect(witFuncs(witSrc, 'engine')).toEqual(ENGINE_FUNCS);
  });

  it('component imports only nbio:engine/sys and exports only nbio:engine/engine', async () => {
    const wit = await componentWit(readFileSync(component));
    const world = wit.slice(wit.indexOf('world '));
    const imports = [...world.matchAll(/^\s*import\s+([^;]+);/gm)].map((m) => m[1].trim());
    const exports = [...world.matchAll(/^\s*export\s+([^;]+);/gm)].map((m) => m[1].trim());
    expect(imports).toEqual(['nbio:engine/sys@0.1.0']);
    expect(exports).toEqual(['nbio:engine/engine@0.1.0']);
  });

  it('component interfaces carry exactly the functions of the WIT (via jco transpile)', async () => {
    const { files, imports, exports } = await transpile(readFileSync(component),
      { name: 'reactor', instantiation: 'sync', quiet: true });
    // jco reports the import specifier without its version (the glue reads
    // imports['nbio:engine/sys']).
    expect(imports.map((i) => i.replace(/@.*$/, ''))).toEqual(['nbio:engine/sys']);
    // ... and exports the interface under its full name plus a short alias.
    const names = exports.map(([n]) => n.replace(/@.*$/, ''));
    expect(names).toContain('nbio:engine/engine');
    expect(names.every((n) => n === 'nbio:engine/engine' || n === 'engine')).toBe(true);
    const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    const funcs = (file: string) => {
      const dts = new TextDecoder().decode(files[file]);
      return [...dts.matchAll(/export function (\w+)\(/g)].map((m) => kebab(m[1])).sort();
    };
    expect(funcs('interfaces/nbio-engine-sys.d.ts')).toEqual(SYS_FUNCS);
    expect(funcs('interfaces/nbio-engine-engine.d.ts')).toEqual(ENGINE_FUNCS);
  });

  it('core module imports exactly the sys functions, with the lowered signatures', () => {
    const mod = new WebAssembly.Module(readFileSync(core));
    const imports = WebAssembly.Module.imports(mod);
    expect(imports.every((i) => i.module === 'nbio:engine/sys@0.1.0' && i.kind === 'function')).toBe(true);
    expect(imports.map((i) => i.name).sort()).toEqual(SYS_FUNCS);
    expect(imports.length).toBe(SYS_FUNCS.length);
  });

  it('core module exports memory, cabi_realloc and the engine functions, nothing else', () => {
    const mod = new WebAssembly.Module(readFileSync(core));
    const exports = WebAssembly.Module.exports(mod);
    const byName = Object.fromEntries(exports.map((e) => [e.name, e.kind]));
    expect(byName.memory).toBe('memory');
    expect(byName.cabi_realloc).toBe('function');
    const engine = exports.filter((e) => e.name.startsWith('nbio:engine/engine@0.1.0#'))
      .map((e) => e.name.slice('nbio:engine/engine@0.1.0#'.length)).sort();
    expect(engine).toEqual(ENGINE_FUNCS);
    expect(exports.length).toBe(2 + ENGINE_FUNCS.length);
  });
});
