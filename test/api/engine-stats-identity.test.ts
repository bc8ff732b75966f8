// engine.stats() counts every connection once when it comes (accepted,
// dialed or added) and once when it goes (closed), over TCP, Unix and UDP,
// with one poller and with two: connections === accepted + dialed + added
// - closed whenever the figures are quiet. And the memory getters tell the
// same sums as stats(); pluginStats tells this thread's poller's own.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Conn, Engine, EngineStats } from '../../host/index.js';
import { split, statsReach, useScope, type Scope } from '../helpers.js';
import { examplePlugin } from '../plugin/plugin-fixtures.js';

const echo = new URL('../fixtures/echo.mjs', import.meta.url);

/** The identity every quiet set of figures satisfies. */
function expectIdentity(s: EngineStats): void {
  expect(s.connections).toBe(s.accepted + s.dialed + s.added - s.closed);
}

/** Sends one datagram to `address` ('host:port') from each of `n` new UDP sockets and waits for its echo. */
async function udpPeers(scope: Scope, address: string, n: number): Promise<void> {
  const { host, port } = split(address);
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const peer = await scope.udp();
    const echoed = new Promise((resolve) => peer.once('message', resolve));
    peer.send(`peer ${i}`, port, host);
    await echoed;
  }));
}

/** A started echo engine (handlers from a module, so any number of pollers). */
async function echoEngine(scope: Scope, options: Parameters<Scope['engine']>[0]): Promise<Engine> {
  const engine = scope.engine({ handlers: echo, ...options });
  await engine.start();
  return engine;
}

describe('engine.stats(): every connection counted once in and once out', () => {
  const scope = useScope();

  for (const pollers of [1, 2]) {
    it(`adds up over accepted, dialed (TCP, Unix, UDP), added and closed connections (pollers: ${pollers})`, async () => {
      const unixPath = join(scope.tempDir(), 'target.sock');
      const unixTarget = await echoEngine(scope, { network: 'unix', addrs: [unixPath] });
      const udpTarget = await scope.udp();
      const tcpTarget = await echoEngine(scope, { addrs: ['127.0.0.1:0'] });
      const engine = await echoEngine(scope, { addrs: ['127.0.0.1:0'], pollers });

      const clients = await Promise.all([0, 1, 2].map(() => scope.connect(engine.addrs[0])));
      const dialed: Conn[] = [
        await engine.dial('tcp', tcpTarget.addrs[0]),
        await engine.dial('tcp', tcpTarget.addrs[0]),
        await engine.dial('unix', unixPath),
        await engine.dial('udp', `127.0.0.1:${udpTarget.address().port}`),
      ];
      const added: Conn[] = [
        await engine.addConn(await scope.connect(tcpTarget.addrs[0])),
        await engine.addConn(await scope.connect(unixPath)),
      ];
      let stats = await statsReach(engine, { connections: 9, accepted: 3, dialed: 4, added: 2, closed: 0 });
      expectIdentity(stats);
      expect(dialed.map((c) => c.transport)).toEqual(['tcp', 'tcp', 'unix', 'udp']);
      expect(added.map((c) => c.transport)).toEqual(['tcp', 'unix']);

      clients[0].end();
      dialed[1].close();
      dialed[3].close();
      added[1].close();
      stats = await statsReach(engine, { connections: 5, accepted: 3, dialed: 4, added: 2, closed: 4 });
      expectIdentity(stats);
      if (pollers > 1) {
        const each = engine.stats({ perPoller: true }).pollers!;
        for (const p of each) expectIdentity(p);
        expect(each.every((p) => p.accepted + p.dialed + p.added > 0)).toBe(true);
      }

      // The targets counted their side as accepted: the Unix dial and the Unix socket added; the TCP ones.
      expect(unixTarget.stats()).toMatchObject({ accepted: 2, dialed: 0, added: 0 });
      expect(tcpTarget.stats()).toMatchObject({ accepted: 3, dialed: 0, added: 0 });

      await engine.stop();
      stats = engine.stats();
      expect(stats).toMatchObject({ connections: 0, accepted: 3, dialed: 4, added: 2, closed: 9 });
      expectIdentity(stats);
    });

    it(`counts each new peer of a UDP listener as accepted, and its close (pollers: ${pollers})`, async () => {
      const engine = await echoEngine(scope, { network: 'udp', addrs: ['127.0.0.1:0'], pollers });
      await udpPeers(scope, engine.addrs[0], 3);
      let stats = await statsReach(engine, { connections: 3, accepted: 3, dialed: 0, added: 0, closed: 0 });
      expectIdentity(stats);
      await engine.stop();
      stats = engine.stats();
      expect(stats).toMatchObject({ connections: 0, accepted: 3, closed: 3, closedBy: { local: 3 } });
      expectIdentity(stats);
    });
  }
});

describe('engine memory and plugin getters', () => {
  const scope = useScope();

  it('reactorMemory and reactorMemoryInUse are the sums stats() tells, over every poller', async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers: echo });
    expect([engine.reactorMemory, engine.reactorMemoryInUse]).toEqual([0, 0]);
    await engine.start();
    await Promise.all([0, 1, 2, 3].map(() => scope.connect(engine.addrs[0])));
    const stats = await statsReach(engine, { connections: 4 });
    const each = engine.stats({ perPoller: true }).pollers!;
    expect(engine.reactorMemory).toBe(stats.reactorMemory);
    expect(engine.reactorMemoryInUse).toBe(stats.reactorMemoryInUse);
    expect(engine.reactorMemory).toBe(each[0].reactorMemory + each[1].reactorMemory);
    expect(engine.reactorMemoryInUse).toBe(each[0].reactorMemoryInUse + each[1].reactorMemoryInUse);
    expect(each[1].reactorMemory).toBeGreaterThan(0);
  });

  it("pluginStats tells this thread's poller's plugin only", async () => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], pollers: 2, plugin: { module: examplePlugin('echo') } });
    await engine.start();
    await Promise.all([0, 1, 2, 3].map(() => scope.connect(engine.addrs[0])));
    await statsReach(engine, { connections: 4 });
    const each = engine.stats({ perPoller: true }).pollers!;
    expect(each.map((p) => p.connections)).toEqual([2, 2]); // round-robin
    expect(engine.pluginStats).toMatchObject({ state: 'running', connections: each[0].connections });
  });
});
