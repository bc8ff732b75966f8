// One source of truth for what the reactor (assembly/) and the host (host/)
// share: build/abi.mjs generates both sides' numbers and record layouts from
// the WIT (assembly/generated/abi.ts, host/generated/abi.ts). This holds the
// generator to the WIT and to the canonical ABI, and the numbers both sides
// still spell by hand (Linux's errno and epoll values) to Linux. That the
// generated layout is the one the component model uses is shown by
// test/reactor/portable-path-*.test.ts: jco's glue decodes the same events and
// stats the host decodes through the generated layout.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OUTPUTS, generateAbi } from '../../build/abi.mjs';
import { pluginModel } from '../../build/abi-plugin.mjs';
import { layoutOf } from '../../build/canonical-abi.mjs';
import { parseWit } from '../../build/wit-parser.mjs';
import { closeError } from '../../host/poller/close-cause.js';
import type { SystemError } from '../../host/api/errors.js';
import {
  CloseReason, FD_MASK, GEN_MAX, Level, PEER_BIT, CloseCause as ReactorCloseCause, FailedCall, ReactorStatsBounds,
} from '../../host/generated/abi.js';
import { PluginImports } from '../../host/generated/plugin.js';
import { EPOLL } from '../../host/sys/native.js';
import { CloseCause } from '../../host/guest/reactor.js';

const source = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** `export const NAME: type = <integer>;` declarations of an AssemblyScript file. */
function guestConstants(path: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const m of source(path).matchAll(/export const (\w+): \w+ = (0x[0-9a-fA-F_]+|-?\d+);/g)) {
    found.set(m[1], Number(m[2].replace(/_/g, '')));
  }
  return found;
}

interface PluginCall {
  modules?: string[];
  names: string[];
  postReturn?: string[];
  params: number;
  results: number;
  returnArea?: Record<string, number>;
}
type PluginModel = { imports: Record<string, PluginCall>; exports: Record<string, PluginCall> };

interface Layout {
  size: number;
  align: number;
}
type Def = { kind: string; items: { name: string }[] };
const layout = (wit: string, name: string): Layout => {
  const iface = (parseWit(wit, 'test.wit') as Map<string, { types: Map<string, Def> }>).get('x')!;
  return layoutOf({ kind: 'name', name }, iface.types) as Layout;
};

describe('the layout shared by the reactor and the host', () => {
  it('the generated modules are what build/abi.mjs makes of the WIT as it is now', () => {
    const fresh = generateAbi() as { assembly: string; host: string; plugin: string };
    expect(readFileSync(OUTPUTS.assembly, 'utf8')).toBe(fresh.assembly);
    expect(readFileSync(OUTPUTS.host, 'utf8')).toBe(fresh.host);
    expect(readFileSync(OUTPUTS.plugin, 'utf8')).toBe(fresh.plugin);
  });

  it('npm test writes the generated modules from the WIT as it is before it type-checks', () => {
    const { scripts } = JSON.parse(source('package.json')) as { scripts: { test: string } };
    const steps = scripts.test.split('&&').map((step) => step.trim());
    const generate = steps.indexOf('node build/abi.mjs');
    expect(generate, scripts.test).toBeGreaterThanOrEqual(0);
    expect(generate, scripts.test).toBeLessThan(steps.findIndex((step) => step.startsWith('tsc ')));
    // That step, on a copy of build/ and wit/ whose WIT gained a case, writes modules that have it.
    const scratch = mkdtempSync(join(tmpdir(), 'nbio-abi-'));
    try {
      for (const dir of ['build', 'wit']) cpSync(new URL(`../../${dir}`, import.meta.url), join(scratch, dir), { recursive: true });
      const wit = join(scratch, 'wit', 'nbio-engine.wit');
      const edited = readFileSync(wit, 'utf8').replace('send-to, recv-from }', 'send-to, recv-from, accept }');
      expect(edited).toContain('recv-from, accept }');
      writeFileSync(wit, edited);
      const run = spawnSync(process.execPath, [join(scratch, 'build', 'abi.mjs')], { cwd: scratch, encoding: 'utf8', timeout: 30_000 });
      expect(run.status, run.stderr).toBe(0);
      expect(readFileSync(join(scratch, 'host', 'generated', 'abi.ts'), 'utf8')).toMatch(/RecvFrom: 7,\n\s*Accept: 8,/);
      expect(readFileSync(join(scratch, 'assembly', 'generated', 'abi.ts'), 'utf8')).toMatch(/FAILED_CALL_ACCEPT\b/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('lays records and variants out as the canonical ABI does', () => {
    const wit = `interface x {
      record a { small: u8, big: u64, flag: bool }
      record b { bytes: list<u8>, code: s32 }
      variant v { none, text(string), number(u64) }
      enum e { one, two, three }
      record nested { head: u8, inner: a }
    }`;
    expect(layout(wit, 'a')).toEqual({ size: 24, align: 8 }); // 1, pad to 8, 8, 1, pad to 24
    expect(layout(wit, 'b')).toEqual({ size: 12, align: 4 });
    expect(layout(wit, 'v')).toEqual({ size: 16, align: 8 }); // u8 discriminant, payload at 8
    expect(layout(wit, 'e')).toEqual({ size: 1, align: 1 });
    expect(layout(wit, 'nested')).toEqual({ size: 32, align: 8 });
  });

  it('refuses WIT it cannot lay out, naming it', () => {
    expect(() => parseWit('interface x { type t = u8; }', 'test.wit')).toThrow(/does not support 'type'/);
    expect(() => parseWit('interface x { record r { o: option<u8> } }', 'test.wit')).toThrow(/does not support option/);
    expect(() => layout('interface x { record r { f: mystery } }', 'r')).toThrow(/unknown type 'mystery'/);
  });

  it('refuses a WIT whose words about handles disagree with the handle layout', () => {
    const engineWit = source('wit/nbio-engine.wit');
    const read = (file: string) => (file === 'wit/nbio-engine.wit' ? engineWit.replaceAll('low 20 bits', 'low 24 bits') : source(file));
    expect(() => generateAbi(read)).toThrow(/handle layout .* 'low 20 bits'/);
  });

  it('takes the bound of the stats closed list from the WIT\'s words, for both sides', () => {
    const engineWit = source('wit/nbio-engine.wit');
    expect(engineWit).toContain('at most 256 entries');
    const read = (file: string) => (file === 'wit/nbio-engine.wit' ? engineWit.replace('at most 256 entries', 'at most 300 entries') : source(file));
    const { assembly, host } = generateAbi(read) as { assembly: string; host: string };
    expect(assembly).toContain('export const REACTOR_STATS_CLOSED_MAX: i32 = 300;');
    expect(host).toContain('export const ReactorStatsBounds = { closed: 300 } as const;');
    expect(ReactorStatsBounds.closed).toBe(256);
    expect(source('assembly/stats.ts')).toMatch(/const CLOSED_MAX: i32 = REACTOR_STATS_CLOSED_MAX;/);
  });

  it('takes the plugin world\'s core names, lowered signatures and return areas from the WIT', () => {
    const pluginWit = source('wit/nbio-plugin.wit');
    const { imports, exports } = pluginModel(pluginWit) as PluginModel;
    expect(imports.write).toMatchObject({ modules: ['nbio:plugin/conn@0.1.0', 'cm32p2|nbio:plugin/conn@0.1'], names: ['[method]connection.write', '[method]connection.write'], params: 3, results: 1 });
    expect(imports.drop.names).toEqual(['[resource-drop]connection', 'connection_drop']);
    expect(imports.localAddress).toMatchObject({ params: 2, results: 0, returnArea: { size: 8, align: 4, ptr: 0, len: 4 } });
    expect(exports.init).toMatchObject({ params: 2, results: 1, returnArea: { size: 12, align: 4, error: 1, errorPtr: 4, errorLen: 8 } });
    expect(exports.init.postReturn).toEqual(['cabi_post_nbio:plugin/handler@0.1.0#init', 'cm32p2|nbio:plugin/handler@0.1|init_post']);
    expect(PluginImports.log.params).toBe(imports.log.params);
    const changed = pluginModel(
      pluginWit.replace('write: func(data: list<u8>) -> u32;', 'write: func(data: list<u8>, flags: u32) -> string;')
        .replace('package nbio:plugin@0.1.0;', 'package nbio:plugin@0.2.0;'),
    ) as PluginModel;
    expect(changed.imports.write).toMatchObject({ modules: ['nbio:plugin/conn@0.2.0', 'cm32p2|nbio:plugin/conn@0.2'], params: 5, results: 0 });
  });

  it('host-defined close causes are >= 16, as the WIT reserves, and the reactor\'s come from the WIT', () => {
    for (const cause of [CloseCause.DialTimeout, CloseCause.ReadTimeout, CloseCause.WriteTimeout]) expect(cause).toBeGreaterThanOrEqual(16);
    expect(Object.keys(ReactorCloseCause)).toEqual(['Local', 'PeerEnded', 'WriteOverflow']);
    for (const [name, n] of Object.entries(ReactorCloseCause)) expect(CloseCause[name as keyof typeof ReactorCloseCause]).toBe(n);
  });

  it('every failed call names its system call in the errors onClose gets', () => {
    const syscalls = ['close', 'read', 'write', 'connect', 'epoll_ctl', 'shutdown', 'sendto', 'recvfrom'];
    expect(Object.keys(FailedCall)).toHaveLength(syscalls.length);
    for (const [name, call] of Object.entries(FailedCall)) {
      const err = closeError(-104, call) as SystemError;
      expect(err.syscall, name).toBe(syscalls[call]);
    }
  });

  it('a UDP peer\'s handle sets bit 31, as the WIT says; a connection\'s never does', () => {
    expect(PEER_BIT).toBe(2 ** 31);
    expect(GEN_MAX * (FD_MASK + 1) + FD_MASK).toBeLessThan(PEER_BIT); // the largest connection handle
    const engineWit = source('wit/nbio-engine.wit');
    const read = (file: string) => (file === 'wit/nbio-engine.wit' ? engineWit.replace('its\n/// bit 31 set', 'its\n/// bit 30 set') : source(file));
    expect(() => generateAbi(read)).toThrow(/handle layout .* 'has its bit 31 set'/);
  });

  it('the plugin SDKs (AssemblyScript and C, shipped as source) number the plugin world\'s enums as the WIT does', () => {
    const sdk = source('plugins/sdk/assemblyscript/connection.ts');
    const asEnum = (name: string) => {
      const body = new RegExp(`export enum ${name} \\{([^}]*)\\}`).exec(sdk)?.[1] ?? '';
      return Object.fromEntries([...body.matchAll(/(\w+) = (\d+)/g)].map((m) => [m[1], Number(m[2])]));
    };
    expect(asEnum('Level')).toEqual(Level);
    expect(asEnum('CloseReason')).toEqual(CloseReason);
    const header = source('plugins/sdk/c/nbio_plugin.h');
    const cConst = (prefix: string) =>
      Object.fromEntries([...header.matchAll(new RegExp(`${prefix}(\\w+) = (\\d+)`, 'g'))].map((m) => [m[1], Number(m[2])]));
    const upper = (e: Record<string, number>) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k.toUpperCase(), v]));
    expect(cConst('NBIO_LOG_')).toEqual(upper(Level));
    expect(cConst('NBIO_CLOSE_')).toEqual(upper(CloseReason));
  });

  it('the errno values the reactor spells are Linux\'s', () => {
    const guest = guestConstants('assembly/constants.ts');
    const errnos = [...guest].filter(([name]) => /^E[A-Z]+$/.test(name) && !name.startsWith('EPOLL'));
    expect(errnos.length).toBeGreaterThan(10);
    for (const [name, value] of errnos) expect(value, name).toBe(constants.errno[name as keyof typeof constants.errno]);
  });

  it('the epoll numbers agree between the reactor, the host and the WIT', () => {
    const guest = guestConstants('assembly/constants.ts');
    for (const bit of ['IN', 'OUT', 'ERR', 'HUP', 'RDHUP'] as const) expect(guest.get(`EPOLL${bit}`), bit).toBe(EPOLL[bit]);
    for (const op of ['CTL_ADD', 'CTL_DEL', 'CTL_MOD'] as const) expect(guest.get(`EPOLL_${op}`), op).toBe(EPOLL[op]);
    // The WIT's `ready` record lists the bits: "IN 0x1, PRI 0x2, OUT 0x4, …".
    const listed = /EPOLL\* bits: ([^.]*)\./.exec(source('wit/nbio-engine.wit'))![1];
    const pairs = [...listed.matchAll(/([A-Z]+) (0x[0-9a-f]+)/g)];
    expect(pairs.length).toBe(6);
    for (const [, bit, value] of pairs) expect(guest.get(`EPOLL${bit}`), bit).toBe(Number(value));
  });
});
