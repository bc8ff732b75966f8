// A plugin instance in process, without sockets: the resource table, the
// owner check of the host functions, re-entry, metering, the memory cap
// written into the module.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConnState, type Conn } from '../../host/api/conn.js';
import type { NbioError } from '../../host/api/errors.js';
import { HandleTable } from '../../host/plugin/handles.js';
import { PluginInstance, type InstanceHost } from '../../host/plugin/instance.js';
import { PAGE } from '../../host/guest/memory.js';
import { BYTES, capLimits, planBudget } from '../../host/plugin/memory-budget.js';
import { preparePlugin, type PluginModule } from '../../host/plugin/module.js';
import { fakeConn } from './fake-conn.js';
import { examplePlugin, fixturePlugin } from './plugin-fixtures.js';

/** An instance host that records failures and log lines. */
function testHost(fuelPerEvent = 10_000_000) {
  const failures: NbioError[] = [];
  const lines: string[] = [];
  const host: InstanceHost & { onLog?: () => void } = {
    fuelPerEvent,
    timePerEvent: 60_000,
    writeQueueLimit: 1 << 20,
    log: (_level, message) => {
      lines.push(message);
      host.onLog?.();
    },
    pause: (conn) => conn.pause(),
    resume: (conn) => conn.resume(),
    ranLong: () => {},
    failed: (_instance, err) => failures.push(err),
  };
  const give = (instance: PluginInstance, conn: Conn) => instance.open(conn);
  return { host, failures, lines, give };
}

const modules = new Map<string, Promise<PluginModule>>();
function prepared(name: string, source: () => Promise<Uint8Array>): Promise<PluginModule> {
  if (!modules.has(name)) modules.set(name, source().then((bytes) => preparePlugin(bytes, 16 << 20)));
  return modules.get(name)!;
}
const echo = () => prepared('echo', async () => readFileSync(examplePlugin('echo')));
const upper = () => prepared('upper-lines', async () => readFileSync(examplePlugin('upper-lines')));
const forge = () => prepared('forge', () => fixturePlugin('forge'));

describe('a plugin instance', () => {
  it('serves the connections it was given', async () => {
    const t = testHost();
    const instance = new PluginInstance(await upper(), t.host);
    expect(instance.init(new Uint8Array(0))).toBeUndefined();
    const { conn, written } = fakeConn(1);
    t.give(instance, conn);
    instance.data(conn, Buffer.from('abc\ndef'));
    instance.data(conn, Buffer.from('\n'));
    expect(written.join('')).toBe('ABC\nDEF\n');
    expect(t.failures).toEqual([]);
  });

  it('keeps only its open connections, each still served as its own, whatever order they close in', async () => {
    const t = testHost();
    const instance = new PluginInstance(await upper(), t.host);
    instance.init(new Uint8Array(0));
    const conns = Array.from({ length: 300 }, (_, i) => fakeConn(i + 1));
    for (const { conn } of conns) t.give(instance, conn);
    // Close two of every three, from the middle outwards and then the rest, so that
    // connections at the end of the list take the closed ones' places.
    const closing = conns.filter((_, i) => i % 3 !== 1);
    const order = [...closing.slice(100), ...closing.slice(0, 100).reverse()];
    for (const { conn } of order) {
      instance.close(conn, 0);
      conn.state = ConnState.Closed;
    }
    const open = conns.filter((_, i) => i % 3 === 1);
    expect(new Set(instance.connections())).toEqual(new Set(open.map((c) => c.conn)));
    for (const { conn } of order) {
      expect(instance.has(conn)).toBe(false);
      expect(conn.plugin).toBeUndefined();
    }
    for (const [i, { conn }] of open.entries()) instance.data(conn, Buffer.from(`line ${i}\n`));
    for (const [i, { written }] of open.entries()) expect(written).toEqual([`LINE ${i}\n`]);
    for (const { written } of order) expect(written).toEqual([]);
    expect(t.failures).toEqual([]);
  });

  it('traps when the engine does not own a connection to it (the owner check)', async () => {
    const t = testHost();
    const instance = new PluginInstance(await forge(), t.host);
    instance.init(new Uint8Array(0));
    const { conn, written } = fakeConn(1);
    const other = fakeConn(2);
    t.give(instance, conn);
    t.give(instance, other.conn);
    instance.data(conn, Buffer.from('mine'));
    const handle = /^open (\d+)$/.exec(t.lines[1])![1];
    const second = new PluginInstance(await echo(), t.host);
    second.init(new Uint8Array(0));
    t.give(second, conn); // as if a bug gave it to another instance as well
    instance.data(other.conn, Buffer.from(`write ${handle}`)); // its own handle of it, valid in its table
    expect(written).toEqual(['mine']);
    expect(t.failures).toHaveLength(1);
    expect(t.failures[0].code).toBe('ERR_NBIO_PLUGIN_TRAP');
    expect(t.failures[0].message).toContain('names a connection that was not given to this plugin instance');
    expect(instance.dead).toBe(true);
    instance.data(conn, Buffer.from('after the trap'));
    expect(written).toEqual(['mine']); // nothing enters a dead instance
  });

  it('refuses a call made while another one runs (re-entry)', async () => {
    const t = testHost();
    const instance = new PluginInstance(await forge(), t.host);
    instance.init(new Uint8Array(0));
    const { conn } = fakeConn(1);
    const other = fakeConn(2);
    t.give(instance, conn);
    let refusal: Error | undefined;
    t.host.onLog = () => {
      try {
        instance.data(conn, Buffer.from('x'));
      } catch (err) {
        refusal = err as Error;
      }
    };
    t.give(instance, other.conn); // the plugin logs in on-open, from inside the call
    expect(refusal?.message).toMatch(/re-entrant call into a plugin instance refused/);
    expect(t.failures).toEqual([]);
  });

  it('meters the work of a call: the same input costs the same fuel, more input more', async () => {
    const fuelFor = async (text: string) => {
      const t = testHost();
      const instance = new PluginInstance(await upper(), t.host);
      instance.init(new Uint8Array(0));
      const { conn } = fakeConn(1);
      t.give(instance, conn);
      const before = instance.fuelUsed;
      instance.data(conn, Buffer.from(text));
      return instance.fuelUsed - before;
    };
    const line = 'metered\n';
    const [a, b, c] = [await fuelFor(line.repeat(100)), await fuelFor(line.repeat(100)), await fuelFor(line.repeat(200))];
    expect(a).toBe(b);
    expect(c).toBeGreaterThan(a + 800); // at least a unit per byte of the loop
  });

  it('stops a call that runs out of fuel, deterministically', async () => {
    const spin = await prepared('spin', () => fixturePlugin('spin'));
    const used: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t = testHost(1_000_000);
      const instance = new PluginInstance(spin, t.host);
      instance.init(new Uint8Array(0));
      const { conn } = fakeConn(1);
      t.give(instance, conn);
      instance.data(conn, Buffer.from('spin'));
      expect(t.failures.map((f) => f.code)).toEqual(['ERR_NBIO_PLUGIN_LIMIT']);
      used.push(instance.fuelUsed);
    }
    expect(used[0]).toBe(used[1]);
  });
});

describe('the resource table', () => {
  it('never lets a dropped handle name the slot\'s next occupant', () => {
    const table = new HandleTable<string>();
    const a = table.insert('a');
    expect(table.get(a)).toBe('a');
    expect(table.remove(a)).toBe('a');
    const b = table.insert('b'); // same slot, next generation
    expect(b & 0xfffff).toBe(a & 0xfffff);
    expect(b).not.toBe(a);
    expect(table.get(a)).toBeUndefined();
    expect(table.remove(a)).toBeUndefined();
    expect(table.get(b)).toBe('b');
    expect(table.get(0)).toBeUndefined();
    expect(table.get(b + 1)).toBeUndefined();
    expect(table.size).toBe(1);
  });

  it('retires a slot whose generations are spent: no handle is ever given twice', () => {
    const table = new HandleTable<number>();
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const handle = table.insert(i);
      expect(seen.has(handle)).toBe(false);
      seen.add(handle);
      table.remove(handle);
    }
    const first = 0x100001; // slot 1, generation 1
    expect(seen.has(first)).toBe(true);
    expect(table.get(first)).toBeUndefined();
    // 2,047 generations of slot 1, then of slot 2...
    expect([...seen].filter((h) => (h & 0xfffff) === 1)).toHaveLength(2047);
  });
});

describe('the memory budget', () => {
  /** (module (memory (export "m") min max?)) */
  const memoryModule = (min: number, max?: number) => {
    const limits = max === undefined ? [0, min] : [1, min, max];
    return Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, limits.length + 1, 1, ...limits, 7, 5, 1, 1, 0x6d, 2, 0]);
  };
  const memoryOf = (module: Uint8Array) =>
    new WebAssembly.Instance(new WebAssembly.Module(module as Uint8Array<ArrayBuffer>)).exports.m as WebAssembly.Memory;
  /** A budget of `pages` pages for the memory besides what the instance itself is charged. */
  const budgetFor = (min: number, max: number | undefined, pages: number) => planBudget(
    { memories: [{ min, max }], tables: [], globals: 0, exports: 0, functions: 0, elementEntries: 0 }, BYTES.instance + pages * PAGE);

  it('becomes the maximum of a memory that has none, or a larger one: growing past it fails', () => {
    for (const [min, max] of [[1, undefined], [1, 100]]) {
      const memory = memoryOf(capLimits(memoryModule(min!, max), budgetFor(min!, max, 4)));
      expect(memory.grow(3)).toBe(1);
      expect(() => memory.grow(1)).toThrow(RangeError);
      expect(memory.buffer.byteLength).toBe(4 * PAGE);
    }
    const smaller = memoryOf(capLimits(memoryModule(1, 2), budgetFor(1, 2, 4))); // a smaller maximum stays
    expect(() => smaller.grow(2)).toThrow(RangeError);
  });

  it('refuses a module whose declared minimums need more than the budget, saying what they need', () => {
    expect(() => budgetFor(5, undefined, 4)).toThrow(/needs at least \d+ bytes \(memory 327680, tables 0, .*more than maxMemory/);
  });
});
