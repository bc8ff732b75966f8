// The WASI artifacts match their WIT: the library component exports
// nbio:engine/engine and nbio:engine/net over wasi:* imports only; every
// command component exports only wasi:cli/run and imports only wasi:*;
// the pinned WASI packages are the ones jco ships; every function of the
// net interface has a contract.
import { componentWit } from '@bytecodealliance/jco';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './commands.js';

const wasm = (f: string) => join(root, 'dist', 'wasm', f);
const witDir = join(root, 'wit');
const COMMANDS = readdirSync(join(root, 'examples', 'wasi')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
const SOCKET_IMPORTS = [
  'wasi:clocks/monotonic-clock@0.2.12', 'wasi:io/error@0.2.12', 'wasi:io/poll@0.2.12', 'wasi:io/streams@0.2.12',
  'wasi:sockets/instance-network@0.2.12', 'wasi:sockets/ip-name-lookup@0.2.12', 'wasi:sockets/network@0.2.12',
  'wasi:sockets/tcp-create-socket@0.2.12', 'wasi:sockets/tcp@0.2.12',
];

async function world(file: string): Promise<{ imports: string[]; exports: string[] }> {
  const wit = await componentWit(readFileSync(wasm(file)));
  const w = wit.slice(wit.indexOf('world '));
  const names = (kw: string) => [...w.matchAll(new RegExp(`^\\s*${kw}\\s+([^;{]+);`, 'gm'))].map((m) => m[1].trim()).sort();
  return { imports: names('import'), exports: names('export') };
}

describe('WASI components', () => {
  it('examples/wasi/ holds the echo server, the echo client and the line server', () => {
    expect(COMMANDS).toEqual(expect.arrayContaining(['echo-client', 'echo-server', 'line-server']));
  });

  it('the library component imports only wasi:* and exports engine and net', async () => {
    const { imports, exports } = await world('reactor-wasi.component.wasm');
    expect(imports).toEqual(SOCKET_IMPORTS);
    expect(exports).toEqual(['nbio:engine/engine@0.1.0', 'nbio:engine/net@0.1.0']);
  });

  it.each(COMMANDS)('%s.wasm is a command: wasi:cli/run only, wasi:* imports only', async (name) => {
    const { imports, exports } = await world(`${name}.wasm`);
    expect(exports).toEqual(['wasi:cli/run@0.2.12']);
    expect(imports.every((i) => i.startsWith('wasi:'))).toBe(true);
    expect(imports).toEqual(expect.arrayContaining(SOCKET_IMPORTS));
    expect(imports.filter((i) => !SOCKET_IMPORTS.includes(i)).sort()).toEqual(
      ['wasi:cli/environment@0.2.12', 'wasi:cli/stderr@0.2.12', 'wasi:cli/stdout@0.2.12']);
  });

  it.each(['reactor-wasi', ...COMMANDS])('the core module of %s imports only wasi:* functions', (name) => {
    const mod = new WebAssembly.Module(readFileSync(wasm(`${name}.core.wasm`)));
    const imports = WebAssembly.Module.imports(mod);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((i) => !i.module.startsWith('wasi:') || i.kind !== 'function')).toEqual([]);
  });

  it('every function of the net interface has a doc comment', () => {
    const src = readFileSync(join(witDir, 'nbio-wasi.wit'), 'utf8');
    const body = src.slice(src.indexOf('interface net {'), src.indexOf('\n}', src.indexOf('interface net {')));
    const lines = body.split('\n');
    const funcs = lines.flatMap((l, i) => (/^\s*[a-z-]+: func/.test(l) ? [i] : []));
    expect(funcs.map((i) => lines[i].trim().split(':')[0])).toEqual(['listen', 'dial', 'local-address', 'remote-address']);
    for (const i of funcs) expect(lines[i - 1].trim().startsWith('///'), lines[i]).toBe(true);
  });

  it('the pinned WASI packages in wit/deps/ are the 0.2.12 ones jco ships', () => {
    const shipped = join(root, 'node_modules', '@bytecodealliance', 'jco', 'lib', 'wit', 'builtin', '0.2.12');
    for (const dep of readdirSync(join(witDir, 'deps'))) {
      expect(readFileSync(join(witDir, 'deps', dep, 'package.wit'), 'utf8'), dep)
        .toBe(readFileSync(join(shipped, `wasi-${dep}`, 'package.wit'), 'utf8'));
    }
  });
});
