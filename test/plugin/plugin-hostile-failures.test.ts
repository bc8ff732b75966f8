// Hostile plugins against containment: however an instance fails (in the
// plugin, in a host call with the stack nearly used up, after dropping a
// handle), every connection it had gets one onClose with the failure and
// nothing leaks; a handle never names another connection, however many
// came since; what the plugin closed in an event acts closed at once.
import { describe, expect, it } from 'vitest';
import { signal, split, useScope } from '../helpers.js';
import { hostilePlugin } from './hostile-fixtures.js';
import { HostileRun, untilClosed } from './plugin-hostile-harness.js';

describe('hostile plugins: failures', () => {
  const scope = useScope();

  it('contains a failure inside a host call at any depth: close, end or drop with the stack nearly used up', async () => {
    const lines: string[] = [];
    const run = await HostileRun.create(scope, {
      module: await hostilePlugin('deep-call'), fuelPerEvent: 2 ** 31 - 1, restartDelay: 0, maxRestarts: 1_000_000,
      log: (_level, message) => lines.push(message),
    });
    await run.start();
    let opened = 0;
    /** Recurses `depth` deep on a new connection, then does `op`: whether the instance failed. */
    const probe = async (op: string, depth: number): Promise<boolean> => {
      await run.until('the plugin runs', () => run.engine.pluginStats!.state === 'running');
      const failures = run.engine.pluginStats!.failures;
      const done = lines.length;
      const socket = await run.connect();
      opened++;
      const message = Buffer.alloc(5);
      message.write(op);
      message.writeUInt32LE(depth, 1);
      socket.write(message);
      await run.until('the event ended', () => lines.length > done || run.engine.pluginStats!.failures > failures);
      socket.destroy();
      return run.engine.pluginStats!.failures > failures;
    };
    /** The smallest depth in [from, to) at which `op` fails (`to` if none does). */
    const firstFailure = async (op: string, from: number, to: number): Promise<number> => {
      let [low, high] = [from - 1, to];
      while (high - low > 1) {
        const mid = Math.floor((low + high) / 2);
        if (await probe(op, mid)) high = mid;
        else low = mid;
      }
      return high;
    };
    // How deep the plugin can go at all, then for each call the depth
    // where it no longer fits, and every depth around there: the stack
    // then runs out at each point of the host's code in turn.
    const deepest = (await firstFailure('n', 0, 1_000_000)) - 1;
    for (const op of ['c', 'e', 'd']) {
      const limit = await firstFailure(op, Math.max(0, deepest - 5000), deepest + 1);
      for (let depth = Math.max(0, limit - 30); depth <= limit + 120; depth++) await probe(op, depth);
    }
    await run.until('every connection closed, once', () => run.engine.connCount === 0 && run.closes.length === opened);
    const codes = new Set(run.closes.map((c) => c.code));
    for (const code of codes) expect([undefined, 'ERR_NBIO_PLUGIN_TRAP']).toContain(code);
    console.log(`deepest recursion ${deepest}; failures ${run.engine.pluginStats!.failures} of ${opened} connections`);
    // Hundreds of instances re-created at once (restartDelay: 0): V8's
    // collections of their memories add to the bystander's silences.
    await run.finish('host calls at the stack limit', { stall: 500 });
  });

  it('closes a connection the plugin dropped before trapping in the same event with the trap, like the others', async () => {
    const run = await HostileRun.create(scope, { module: await hostilePlugin('drop-trap') });
    await run.start();
    const sockets = [await run.connect(), await run.connect(), await run.connect()];
    await run.until('every connection is open', () => run.engine.pluginStats!.connections === 3);
    const closed = sockets.map(untilClosed);
    sockets[2].write('x');
    expect(await Promise.all(closed)).toEqual(['', '', '']);
    await run.until('every onClose ran', () => run.closes.length === 3);
    expect(run.closes.map((c) => c.code)).toEqual(Array(3).fill('ERR_NBIO_PLUGIN_TRAP'));
    await run.finish('drop, then trap');
  });

  it('treats a connection the plugin closed as closed for the rest of the event, and one it ended as taking no writes', async () => {
    const lines: string[] = [];
    const run = await HostileRun.create(scope, { module: await hostilePlugin('after-close'), log: (_level, message) => lines.push(message) });
    await run.start();
    const ended = await run.connect();
    const endedGot = untilClosed(ended);
    ended.write('e');
    expect(await endedGot).toBe('');
    const closed = await run.connect();
    const closedGot = untilClosed(closed);
    closed.write('c');
    expect(await closedGot).toBe('');
    expect(lines).toEqual(['write 0 local 9 remote 9', 'write 0 local 0 remote 0']);
    await run.finish('methods after close');
  });

  it('never lets a dropped handle name a later connection, past the wrap of the handle\'s generation', async () => {
    const run = await HostileRun.create(scope, { module: await hostilePlugin('stale-handle') });
    await run.start();
    let opened = signal();
    run.engine.onOpen(() => opened.resolve());
    // One connection at a time: each takes the first connection's slot in
    // the plugin's table, one generation later, through all 2,047 of them.
    for (let i = 0; i < 2047; i++) {
      const socket = await scope.connect(run.engine.addrs[0]);
      await opened.promise;
      opened = signal();
      socket.destroy();
      await run.until('the connection closed', () => run.closes.length === i + 1);
    }
    const victim = await run.connect();
    await opened.promise;
    let got = '';
    victim.on('data', (d) => (got += d));
    victim.write('old');
    await run.until('the stale handle is used', () => got !== '' || run.errors.length > 0);
    expect(got).toBe('');
    expect(run.errors.map((e) => e.code)).toEqual(['ERR_NBIO_PLUGIN_TRAP']);
    expect(run.errors[0].message).toMatch(/handle 1048577 names no connection of this plugin instance/);
    await run.finish('a handle past its generation wrap');
  });

  it('drops a datagram too large for UDP that the plugin writes, and keeps serving the peer', async () => {
    const run = await HostileRun.create(scope, { module: await hostilePlugin('datagram') }, { network: 'udp' });
    await run.start();
    const client = await scope.udp();
    const replies: string[] = [];
    client.on('message', (m) => replies.push(m.toString()));
    const { port } = split(run.engine.addrs[0]);
    client.send('one', port, '127.0.0.1');
    await run.until('the first echo', () => replies.length === 1);
    client.send('two', port, '127.0.0.1');
    await run.until('the second echo', () => replies.length === 2);
    expect(replies).toEqual(['one', 'two']);
    expect(run.errors).toEqual([]);
    client.close();
    await run.finish('an oversize datagram');
  });

  it('reads at most 4,096 bytes of a log message, cut at a character, and traps on invalid UTF-8 in what it reads', async () => {
    const lines: string[] = [];
    const run = await HostileRun.create(scope, { module: await hostilePlugin('log'), restartDelay: 0, log: (_level, message) => lines.push(message) });
    await run.start();
    // 4,095 ASCII bytes, then a 2-byte character across the cut, then invalid UTF-8 after it: not read.
    const long = Buffer.concat([Buffer.alloc(4095, 0x61), Buffer.from('é'), Buffer.from([0xff, 0xfe])]);
    const answered = await run.connect();
    const got = new Promise<string>((resolve) => answered.once('data', (d) => resolve(d.toString())));
    answered.write(long);
    expect(await got).toBe('k');
    expect(lines).toEqual([`${'a'.repeat(4095)}…`]);
    // Invalid UTF-8 within what is read traps.
    const trapping = await run.connect();
    const closed = untilClosed(trapping);
    trapping.write(Buffer.from([0x61, 0xff, 0x61]));
    expect(await closed).toBe('');
    expect(run.errors.map((e) => e.message)).toEqual([expect.stringContaining('a string is not valid UTF-8')]);
    await run.finish('log messages');
  });
});
