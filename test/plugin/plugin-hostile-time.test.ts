// Hostile plugins against the CPU budget: host calls and bulk memory
// instructions are paid from the event's fuel, an event that runs too
// long stops at its time limit, and an instance that keeps the thread
// busy across many events yields it; meanwhile another engine in the
// process keeps answering.
import { describe, expect, it } from 'vitest';
import { useScope } from '../helpers.js';
import { hostilePlugin } from './hostile-fixtures.js';
import { HostileRun, MiB, untilClosed } from './plugin-hostile-harness.js';

describe('hostile plugins: time', () => {
  const scope = useScope();

  it('pays for host calls: a loop of log, pause and resume, write or an address ends at the budget', async () => {
    const run = await HostileRun.create(scope, { module: await hostilePlugin('host-calls'), restartDelay: 0, maxRestarts: 100 });
    await run.start();
    const ops = ['l', 'p', 'w', 'a', 'r'];
    for (const op of ops) {
      await run.until('the plugin runs', () => run.engine.pluginStats!.state === 'running');
      const socket = await run.connect();
      const closed = untilClosed(socket);
      socket.write(op);
      await closed;
    }
    expect(run.closes.map((c) => c.code)).toEqual(Array(ops.length).fill('ERR_NBIO_PLUGIN_LIMIT'));
    for (const c of run.closes) expect(c.message).toMatch(/ran out of fuel|ran longer than/);
    await run.finish('host-call loops');
  });

  it('pays for bulk memory by the byte: a loop of memory.fill or memory.copy ends at the budget', async () => {
    const module = await hostilePlugin('bulk', { PAGES: 200, FILL: 12 * MiB, COPY: 6 * MiB });
    const run = await HostileRun.create(scope, { module, restartDelay: 0, maxRestarts: 100 });
    await run.start();
    for (const op of ['f', 'c']) {
      await run.until('the plugin runs', () => run.engine.pluginStats!.state === 'running');
      const socket = await run.connect();
      const closed = untilClosed(socket);
      socket.write(op);
      await closed;
    }
    expect(run.closes.map((c) => c.code)).toEqual(['ERR_NBIO_PLUGIN_LIMIT', 'ERR_NBIO_PLUGIN_LIMIT']);
    await run.finish('bulk memory loops');
  });

  it('stops an event at its time limit when its fuel would let it run on', async () => {
    const run = await HostileRun.create(scope, { module: await hostilePlugin('spin'), fuelPerEvent: 2 ** 31 - 1 });
    await run.start();
    const socket = await run.connect();
    const closed = untilClosed(socket);
    socket.write('spin');
    await closed;
    expect(run.closes.map((c) => c.code)).toEqual(['ERR_NBIO_PLUGIN_LIMIT']);
    expect(run.closes[0].message).toContain('ran longer than timePerEvent (5 ms)');
    await run.finish('time limit');
  });

  it('yields the thread when many connections\' events add up, each within its own limits', async () => {
    const run = await HostileRun.create(scope, { module: await hostilePlugin('burn') });
    await run.start();
    const conns = 1000;
    const sockets = await Promise.all(Array.from({ length: conns }, () => run.connect()));
    await run.until('every connection is open', () => run.engine.pluginStats!.connections === conns);
    // About 6,000,000 units of fuel each: a fraction of a millisecond, within every limit of one event.
    const burn = Buffer.alloc(4);
    burn.writeUInt32LE(400_000);
    let answered = 0;
    for (const socket of sockets) socket.on('data', (d) => (answered += d.length));
    run.bystander!.reset();
    for (let round = 0; round < 3; round++) {
      const before = answered;
      for (const socket of sockets) socket.write(burn);
      await run.until('every connection is answered', () => answered === before + conns);
    }
    expect(run.errors).toEqual([]);
    expect(run.closes).toEqual([]);
    await run.finish('1,000 connections burning at once');
  });
});
