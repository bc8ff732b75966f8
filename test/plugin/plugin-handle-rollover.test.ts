// An instance whose handles are spent by age is replaced without a
// failure: a new instance takes the new connections while the old one
// serves its own until they close. A plugin holding as many handles as its
// table can is told so, and that is a failure. In process, with tables of
// a few handles (the production ones take two billion connections).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConnState, type Conn } from '../../host/api/conn.js';
import type { NbioError } from '../../host/api/errors.js';
import { resolvePluginOptions, type LogLevel } from '../../host/api/plugin-options.js';
import { HandleTable } from '../../host/plugin/handles.js';
import { preparePlugin } from '../../host/plugin/module.js';
import { PluginSupervisor } from '../../host/plugin/supervisor.js';
import { fakeConn } from './fake-conn.js';
import { examplePlugin } from './plugin-fixtures.js';

/**
 * Resolves once `check()` holds: events past the plugin's budget for a
 * turn of the event loop run in a later turn (turns.ts).
 */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(check(), what).toBe(true);
}

/** A supervisor of the echo example whose instances' tables have 2 slots of 2 generations: 4 handles in an instance's life. */
async function echoSupervisor() {
  const errors: NbioError[] = [];
  const lines: { level: LogLevel; message: string }[] = [];
  const closed: { conn: Conn; err: NbioError }[] = [];
  const options = resolvePluginOptions({ module: examplePlugin('echo'), restartDelay: 0 });
  const plugin = await preparePlugin(readFileSync(examplePlugin('echo')), options.maxMemory);
  const supervisor = new PluginSupervisor(plugin, options, 1 << 20, {
    error: (err) => errors.push(err),
    log: (level, message) => lines.push({ level, message }),
  }, { slots: 2, generations: 2 });
  supervisor.start({ fail: (conn, err) => closed.push({ conn, err }) });
  /** A new connection, once an instance took it (or failed on it). */
  const open = async () => {
    const made = fakeConn(0);
    const failures = errors.length;
    supervisor.open(made.conn);
    await until('an instance took the connection', () => made.conn.plugin !== undefined || errors.length > failures);
    return made;
  };
  /** Closes `conn`, once its instance heard of it. */
  const close = async (conn: Conn) => {
    conn.state = ConnState.Closed;
    supervisor.closed(conn);
    await until('the instance heard of the close', () => conn.plugin === undefined);
  };
  /** Sends `text` on `conn`: what the plugin echoed. */
  const echo = async (made: ReturnType<typeof fakeConn>, text: string) => {
    made.written.length = 0;
    supervisor.data(made.conn, Buffer.from(text));
    await until('the plugin echoed', () => made.written.join('') === text);
    return made.written.join('');
  };
  return { supervisor, errors, lines, closed, open, close, echo };
}

describe('a plugin instance\'s handles over its life', () => {
  it('replaces an instance whose handles are spent, not as a failure: the old one serves its connections until they close', async () => {
    const t = await echoSupervisor();
    try {
      // Slot 1 serves two connections and is retired; slot 2 serves one and holds a fourth.
      const first = await t.open();
      const second = await t.open();
      await t.close(first.conn);
      const third = await t.open();
      await t.close(third.conn);
      await t.close(second.conn);
      const kept = await t.open();
      expect(t.lines).toEqual([]);
      // No handle is left to give: a new instance takes the next connection.
      const fresh = await t.open();
      expect(t.lines).toEqual([{ level: 'info', message: expect.stringContaining('a new instance takes new connections, the old one serves its 1 open connections') }]);
      expect(t.supervisor.stats).toMatchObject({ state: 'running', failures: 0, restarts: 0, connections: 2 });
      expect(await t.echo(kept, 'old')).toBe('old');
      expect(await t.echo(fresh, 'new')).toBe('new');
      expect(kept.conn.plugin).not.toBe(fresh.conn.plugin);
      // The old instance is dropped when its last connection closes; the new one serves on.
      await t.close(kept.conn);
      expect(t.supervisor.stats.connections).toBe(1);
      expect(await t.echo(fresh, 'still')).toBe('still');
      const events = t.supervisor.stats.events;
      expect(events).toBeGreaterThanOrEqual(12); // opens, data and closes of both instances
      expect(t.errors).toEqual([]);
      expect(t.closed).toEqual([]);
    } finally {
      t.supervisor.stop();
    }
  });

  it('replaces instances again and again: every connection is served, nothing counts as a failure', async () => {
    const t = await echoSupervisor();
    try {
      for (let i = 0; i < 40; i++) {
        const made = await t.open();
        expect(await t.echo(made, `c${i}`)).toBe(`c${i}`);
        await t.close(made.conn);
      }
      expect(t.lines.length).toBe(9); // four connections per instance: 40 need ten instances
      expect(t.supervisor.stats).toMatchObject({ state: 'running', failures: 0, restarts: 0, connections: 0 });
      expect(t.errors).toEqual([]);
    } finally {
      t.supervisor.stop();
    }
  });

  it('fails an instance holding as many handles as its table can, saying so', async () => {
    const t = await echoSupervisor();
    try {
      const held = [await t.open(), await t.open()];
      await t.open();
      expect(t.errors.map((e) => e.message)).toEqual([expect.stringContaining('it holds 2 handles at once, the most one instance can: each of an open connection')]);
      expect(t.supervisor.stats).toMatchObject({ failures: 1 });
      expect(t.closed.map((c) => c.conn)).toEqual(held.map((h) => h.conn));
      expect(t.lines).toEqual([]);
    } finally {
      t.supervisor.stop();
    }
  });

  it('takes its sizes from its constructor, the production ones by default', () => {
    const table = new HandleTable<number>({ slots: 1, generations: 1 });
    const a = table.insert(1);
    expect(table.insert(2)).toBe(0);
    expect(table.full).toBe(true);
    table.remove(a);
    expect(table.spent).toBe(true);
    expect(table.insert(3)).toBe(0);
    expect(new HandleTable().capacity).toBe(2 ** 20 - 1);
    expect(() => new HandleTable({ slots: 2 ** 20, generations: 1 })).toThrow(RangeError);
  });
});
