// The sandbox, tried with hostile plugins (test/fixtures/plugins): an
// endless loop, unbounded memory growth, forged and dropped handles, a trap
// in the middle of an event, deep recursion. Each is stopped, closes only
// its own instance's connections, and leaves other engines serving.
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Engine, EngineOptions } from '../../host/index.js';
import { readBytes, signal, useScope, type Scope } from '../helpers.js';
import { examplePlugin, fixturePlugin } from './plugin-fixtures.js';

const MiB = 1024 * 1024;
const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

interface Closed {
  code: string | undefined;
  message: string | undefined;
  cause: unknown;
}

/** A started engine with a plugin, recording its connections' closes and its plugin errors. */
async function pluginEngine(scope: Scope, plugin: EngineOptions['plugin']) {
  const closes: Closed[] = [];
  const errors: Closed[] = [];
  const engine = scope.engine({ addrs: ['127.0.0.1:0'], plugin });
  const record = (err: Error | undefined): Closed => {
    const e = err as (Error & { code?: string }) | undefined;
    return { code: e?.code, message: e?.message, cause: e?.cause };
  };
  engine.onClose((_conn, err) => closes.push(record(err)));
  engine.onPluginError((err) => errors.push(record(err)));
  await engine.start();
  return { engine, closes, errors };
}

/** Resolves with everything the socket receives until the peer closes it. */
function untilClosed(socket: net.Socket): Promise<string> {
  let text = '';
  socket.on('data', (d) => (text += d));
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve(text)));
}

async function echoes(scope: Scope, engine: Engine, text: string): Promise<void> {
  const socket = await scope.connect(engine.addrs[0]);
  socket.write(text);
  expect((await readBytes(socket, text.length)).toString()).toBe(text);
  socket.destroy();
}

describe('hostile plugins', () => {
  const scope = useScope();

  it('an endless loop in on-data is stopped by the fuel limit, while another engine keeps answering', async () => {
    const spin = await pluginEngine(scope, {
      module: await fixturePlugin('spin'), fuelPerEvent: 50_000_000, timePerEvent: 1000, restartDelay: 1, maxRestarts: 100,
    });
    const echo = scope.engine({ addrs: ['127.0.0.1:0'], plugin: { module: examplePlugin('echo') } });
    await echo.start();

    // A client of the echo engine pings continuously, noting when each answer came.
    const pinger = await scope.connect(echo.addrs[0]);
    const answered: number[] = [];
    let pinging = true;
    pinger.on('data', () => {
      answered.push(performance.now());
      if (pinging) pinger.write('ping');
    });
    pinger.write('ping');

    const spins: { from: number; to: number }[] = [];
    for (let i = 0; i < 3; i++) {
      while (spin.engine.pluginStats!.state !== 'running') await tick();
      const socket = await scope.connect(spin.engine.addrs[0]);
      const closed = untilClosed(socket);
      const from = performance.now();
      socket.write('spin');
      expect(await closed).toBe('');
      spins.push({ from, to: performance.now() });
    }
    pinging = false;
    expect(spin.closes.map((c) => c.code)).toEqual(Array(3).fill('ERR_NBIO_PLUGIN_LIMIT'));
    expect(spin.closes[0].message).toContain('ran out of fuel (fuelPerEvent: 50000000)');
    expect(spin.errors.map((e) => e.code)).toEqual(Array(3).fill('ERR_NBIO_PLUGIN_LIMIT'));
    // The echo engine answered between one stopped loop and the next: the thread was never lost.
    for (let i = 1; i < spins.length; i++) {
      expect(answered.some((t) => t > spins[i - 1].to && t < spins[i].from + 1)).toBe(true);
    }
    const gaps = answered.slice(1).map((t, i) => t - answered[i]);
    console.log(`spin: longest gap between echo answers ${Math.max(...gaps).toFixed(1)} ms over ${answered.length} answers`);
  });

  it('unbounded memory growth stops at maxMemory, with the process RSS bounded', async () => {
    const maxMemory = 32 * MiB;
    const hog = await pluginEngine(scope, { module: await fixturePlugin('hog'), maxMemory, timePerEvent: 1000 });
    // RSS at its peak: read while the failed instance's memory is still alive.
    let rssAtLimit = 0;
    hog.engine.onPluginError(() => (rssAtLimit = process.memoryUsage().rss));
    const rssBefore = process.memoryUsage().rss;
    const socket = await scope.connect(hog.engine.addrs[0]);
    const closed = untilClosed(socket);
    socket.write('hog');
    expect(await closed).toBe(''); // never "survived": the grow past the cap trapped
    const rssGrowth = rssAtLimit - rssBefore;
    expect(hog.closes).toHaveLength(1);
    expect(hog.closes[0].code).toBe('ERR_NBIO_PLUGIN_LIMIT');
    expect(hog.closes[0].message).toContain(`its memory and tables would grow past maxMemory (${maxMemory} bytes)`);
    // Without the cap the hog would touch gigabytes: the process stays within the cap and some slack.
    expect(rssGrowth).toBeLessThan(maxMemory + 48 * MiB);
    console.log(`hog: RSS grew ${(rssGrowth / MiB).toFixed(1)} MiB for a ${maxMemory / MiB} MiB cap`);
  });

  it('a forged or dropped handle traps; nothing reaches any other connection', async () => {
    const lines: string[] = [];
    const forge = await pluginEngine(scope, {
      module: await fixturePlugin('forge'), restartDelay: 1, maxRestarts: 100, log: (_l, m) => lines.push(`forge ${m}`),
    });
    const victim = await pluginEngine(scope, { module: await fixturePlugin('forge'), log: (_l, m) => lines.push(`victim ${m}`) });
    const bystander = await scope.connect(victim.engine.addrs[0]);
    let bystanderGot = '';
    bystander.on('data', (d) => (bystanderGot += d));
    while (!lines.includes('victim open 1048577')) await tick();

    // The bystander's handle number, used in the other instance, names that instance's own connection.
    const attacker = await scope.connect(forge.engine.addrs[0]);
    attacker.write('write 1048577');
    expect((await readBytes(attacker, 6)).toString()).toBe('FORGED');
    attacker.destroy();
    // Its handle is free again only once its close has reached the instance.
    while (forge.engine.pluginStats!.connections !== 0) await tick();

    // Guessed numbers name nothing in the attacker's table: each traps its instance.
    const guesses = ['write 1048578', 'write 1', 'write 0', 'write 2097153', 'write 4294967295', 'dropped'];
    for (const guess of guesses) {
      while (forge.engine.pluginStats!.state !== 'running') await tick();
      const socket = await scope.connect(forge.engine.addrs[0]);
      const closed = untilClosed(socket);
      socket.write(guess);
      expect(await closed, guess).toBe('');
    }
    const traps = forge.errors.map((e) => e.code);
    expect(traps).toEqual(Array(guesses.length).fill('ERR_NBIO_PLUGIN_TRAP'));
    for (const e of forge.errors) expect(e.message).toMatch(/names no connection of this plugin instance/);
    bystander.write('still here');
    expect((await readBytes(bystander, 10)).toString()).toBe('still here');
    expect(bystanderGot).toBe('still here');
    expect(victim.errors).toEqual([]);
  });

  it('a trap after a partial write closes only that instance\'s connections, restarts with backoff, then disables', async () => {
    const trap = await pluginEngine(scope, { module: await fixturePlugin('trap'), maxRestarts: 2, restartDelay: 50 });
    const other = await pluginEngine(scope, { module: examplePlugin('echo') });
    const otherSocket = await scope.connect(other.engine.addrs[0]);
    const otherGot = untilClosed(otherSocket);

    const c1 = await scope.connect(trap.engine.addrs[0]);
    const c2 = await scope.connect(trap.engine.addrs[0]);
    c2.write('fine');
    expect((await readBytes(c2, 4)).toString()).toBe('fine');
    const [got1, got2] = [untilClosed(c1), untilClosed(c2)];
    c1.write('trap');
    expect(await got1).toBe('partial'); // written before the trap, then the connection closed
    expect(await got2).toBe('');
    expect(trap.closes.map((c) => c.code)).toEqual(['ERR_NBIO_PLUGIN_TRAP', 'ERR_NBIO_PLUGIN_TRAP']);
    expect(trap.closes[0].cause).toBeInstanceOf(WebAssembly.RuntimeError);
    expect(trap.closes[0].message).toContain('in on-data: it trapped: unreachable');
    expect(trap.engine.pluginStats!.state).toBe('restarting');

    // A connection that opens during the backoff waits for the new instance.
    const waiting = await scope.connect(trap.engine.addrs[0]);
    waiting.write('queued');
    expect((await readBytes(waiting, 6)).toString()).toBe('queued');
    expect(trap.engine.pluginStats).toMatchObject({ state: 'running', failures: 1, restarts: 1 });

    // Two more failures: the second restart, then disabled (maxRestarts: 2).
    const w = untilClosed(waiting);
    waiting.write('trap');
    await w;
    while (trap.engine.pluginStats!.state !== 'running') await tick();
    const c3 = await scope.connect(trap.engine.addrs[0]);
    const got3 = untilClosed(c3);
    c3.write('trap');
    await got3;
    expect(trap.errors.map((e) => e.code)).toEqual([
      'ERR_NBIO_PLUGIN_TRAP', 'ERR_NBIO_PLUGIN_TRAP', 'ERR_NBIO_PLUGIN_TRAP', 'ERR_NBIO_PLUGIN_DISABLED',
    ]);
    expect(trap.engine.pluginStats).toMatchObject({ state: 'disabled', failures: 3, restarts: 2 });

    // New connections are refused with a clear error; the other engine never noticed.
    const refused = await scope.connect(trap.engine.addrs[0]);
    expect(await untilClosed(refused)).toBe('');
    expect(trap.closes.at(-1)!.code).toBe('ERR_NBIO_PLUGIN_DISABLED');
    expect(trap.closes.at(-1)!.message).toContain('disabled after 3 failures within 60000 ms (maxRestarts: 2, restartWindow: 60000)');
    otherSocket.write('unaffected');
    otherSocket.end();
    expect(await otherGot).toBe('unaffected');
    expect(other.errors).toEqual([]);
  });

  it('deep recursion is a trap (stack overflow) at the stack budget, whatever the fuel', async () => {
    const recurse = await pluginEngine(scope, { module: await fixturePlugin('recurse'), fuelPerEvent: 2 ** 31 - 1, timePerEvent: 1000, restartDelay: 1 });
    const socket = await scope.connect(recurse.engine.addrs[0]);
    const closed = untilClosed(socket);
    socket.write('recurse');
    expect(await closed).toBe('');
    expect(recurse.errors).toHaveLength(1);
    expect(recurse.errors[0].code).toBe('ERR_NBIO_PLUGIN_TRAP');
    expect(recurse.errors[0].message).toContain('stack overflow');
    expect(recurse.errors[0].message).toContain('passed the stack budget');
    expect(recurse.errors[0].cause).toBeInstanceOf(WebAssembly.RuntimeError);
    while (recurse.engine.pluginStats!.state !== 'running') await tick();
    await echoes(scope, recurse.engine, 'after the overflow');
  });

  it('uses identical fuel for identical input', async () => {
    const fuelOf = async (module: Uint8Array | string, input: string) => {
      const { engine } = await pluginEngine(scope, { module, fuelPerEvent: 50_000_000, timePerEvent: 1000 });
      const socket = await scope.connect(engine.addrs[0]);
      const closed = untilClosed(socket);
      socket.end(input);
      await closed;
      const done = signal();
      void engine.stop().then(done.resolve);
      await done.promise;
      return engine.pluginStats!;
    };
    const text = 'Sandboxed plugins, metered line by line\n'.repeat(20);
    const lines = [await fuelOf(examplePlugin('upper-lines'), text), await fuelOf(examplePlugin('upper-lines'), text)];
    expect(lines[0].fuelUsed).toBe(lines[1].fuelUsed);
    expect(lines[0].events).toBe(lines[1].events);
    const longer = await fuelOf(examplePlugin('upper-lines'), text + text);
    expect(longer.fuelUsed).toBeGreaterThan(lines[0].fuelUsed); // the byte loop is metered
    const spins = [await fuelOf(await fixturePlugin('spin'), 'spin'), await fuelOf(await fixturePlugin('spin'), 'spin')];
    expect(spins[0].failures).toBe(1);
    expect(spins[0].fuelUsed).toBe(spins[1].fuelUsed);
  });
});
