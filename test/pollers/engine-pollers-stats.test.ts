// engine.stats() with several pollers, over loopback: the figures are the
// sums over the engine's thread and every worker poller (round-robin
// spreads the connections evenly), byte for byte and close by close; each
// poller's own figures add up to them; the final figures outlive stop();
// writes made between dispatches are counted too; a worker that died
// keeps counting what it published, its connections as closed for it.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Engine, EngineStats } from '../../host/index.js';
import { readBytes, statsReach, useScope, type Scope } from '../helpers.js';

const echo = new URL('../fixtures/echo.mjs', import.meta.url);
const faults = new URL('../fixtures/fault-handlers.mjs', import.meta.url);

/** The figures the test compares: every counter but the memory ones (which differ per run). */
type Counters = Omit<EngineStats, 'reactorMemory' | 'reactorMemoryInUse' | 'pollers'>;

function counters(s: EngineStats): Counters {
  const { reactorMemory: _m, reactorMemoryInUse: _u, pollers: _p, ...rest } = s;
  return rest;
}

/** Opens `n` clients to `engine` and has each echo `sizes[i]` bytes; resolves with the clients. */
async function echoed(scope: Scope, engine: Engine, sizes: number[]): Promise<net.Socket[]> {
  const clients = await Promise.all(sizes.map(() => scope.connect(engine.addrs[0])));
  await Promise.all(clients.map(async (socket, i) => {
    const sent = randomBytes(sizes[i]);
    const back = readBytes(socket, sent.length);
    socket.write(sent);
    expect((await back).equals(sent)).toBe(true);
  }));
  return clients;
}

/** The sum of a field over each poller's figures. */
const sum = (s: EngineStats, key: 'connections' | 'accepted' | 'dialed' | 'closed' | 'bytesRead' | 'bytesWritten' | 'queued' | 'queuedMax' | 'reactorMemory') =>
  s.pollers!.reduce((total, p) => total + p[key], 0);

describe('engine.stats() with several pollers', () => {
  const scope = useScope();

  for (const pollers of [2, 4]) {
    it(`sums every poller's figures (pollers: ${pollers}), each poller's adding up to them, and keeps them after stop()`, async () => {
      const engine = scope.engine({ addrs: ['127.0.0.1:0'], pollers, handlers: echo });
      await engine.start();
      const n = 6 * pollers;
      const sizes = Array.from({ length: n }, (_, i) => (i === 0 ? 200_000 : 100 + 37 * i));
      const total = sizes.reduce((a, b) => a + b, 0);
      const clients = await echoed(scope, engine, sizes);

      let stats = await statsReach(engine, { connections: n, accepted: n, dialed: 0, closed: 0, bytesRead: total, bytesWritten: total });
      stats = engine.stats({ perPoller: true });
      expect(stats.pollers).toHaveLength(pollers);
      expect(stats.pollers!.map((p) => p.accepted)).toEqual(new Array(pollers).fill(n / pollers)); // round-robin
      expect(stats.pollers!.every((p) => p.reactorMemory > 0)).toBe(true);
      for (const key of ['connections', 'accepted', 'bytesRead', 'bytesWritten', 'reactorMemory'] as const) {
        expect(sum(stats, key)).toBe(stats[key]);
      }

      for (const c of clients.slice(0, n / 2)) c.end(); // closed by the peer
      stats = await statsReach(engine, { connections: n / 2, closed: n / 2, closedBy: { peer: n / 2 } });

      await engine.stop(); // the rest: closed here, in every poller
      const final = { connections: 0, accepted: n, dialed: 0, added: 0, closed: n, closedBy: { peer: n / 2, local: n / 2 },
        bytesRead: total, bytesWritten: total, queued: 0, queuedMax: stats.queuedMax };
      stats = engine.stats({ perPoller: true });
      expect(counters(stats)).toEqual(final);
      expect(sum(stats, 'closed')).toBe(n);
      expect(sum(stats, 'queuedMax')).toBe(stats.queuedMax);
      expect(counters(engine.stats())).toEqual(final);
    });
  }

  it('counts dials placed on worker pollers, and writes made between their dispatches', async () => {
    let received = 0;
    const sink = await scope.server((socket) => socket.on('data', (d: Buffer) => (received += d.length)));
    const { port } = sink.address() as net.AddressInfo;
    const engine = scope.engine({ pollers: 2, handlers: echo });
    await engine.start();
    const sizes = [10, 2000, 30_000, 7];
    const total = sizes.reduce((a, b) => a + b, 0);
    const conns = await Promise.all(sizes.map(() => engine.dial('tcp', `127.0.0.1:${port}`)));
    // Written from this thread: the worker writes what its stand-ins post outside any dispatch.
    conns.forEach((conn, i) => conn.write(randomBytes(sizes[i])));
    const stats = await statsReach(engine, { connections: 4, dialed: 4, accepted: 0, bytesWritten: total, bytesRead: 0 });
    expect(received).toBe(total);
    expect(engine.stats({ perPoller: true }).pollers!.map((p) => p.dialed)).toEqual([2, 2]);
    expect(stats.closed).toBe(0);
  });

  it('keeps counting what a worker that died published, its connections as closed with ERR_NBIO_POLLER_FAILED', () => {
    // In a child process: the worker ends itself with process.exit, which the test runner forbids.
    const script = `
      import net from 'node:net';
      import { Engine } from ${JSON.stringify(new URL('../../dist/host/index.js', import.meta.url).href)};
      import { seen } from ${JSON.stringify(new URL('../fixtures/fault-seen.mjs', import.meta.url).href)};
      const engine = new Engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers: ${JSON.stringify(faults.href)} });
      await engine.start();
      const [host, port] = engine.addrs[0].split(':');
      const clients = await Promise.all([0, 1, 2, 3].map(() => new Promise((resolve) => {
        const s = net.connect(Number(port), host, () => resolve(s));
        s.on('error', () => {});
      })));
      const talk = (s, text) => new Promise((resolve) => s.once('data', (d) => resolve(String(d).slice(0, 5))) && s.write(text));
      const tags = [];
      for (const s of clients) tags.push(await talk(s, 'who'));
      const settled = async (check) => { while (!check(engine.stats())) await new Promise((r) => setTimeout(r, 10)); };
      await settled((s) => s.bytesRead === 12);
      const before = engine.stats();
      const victim = clients[tags.indexOf('work:')];
      victim.write('die');
      await new Promise((resolve) => victim.once('close', resolve));
      await settled((s) => s.closed === 2);
      const after = engine.stats({ perPoller: true });
      for (const s of clients) s.destroy();
      await engine.stop();
      console.log(JSON.stringify({ tags, before, after, stopped: engine.stats(), seen }));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!);
    expect(out.tags.sort()).toEqual(['main:', 'main:', 'work:', 'work:']);
    expect(out.before).toMatchObject({ connections: 4, accepted: 4, closed: 0 });
    expect(out.after).toMatchObject({ connections: 2, accepted: 4, closed: 2, closedBy: { ERR_NBIO_POLLER_FAILED: 2 } });
    const [own, worker] = out.after.pollers;
    expect(own).toMatchObject({ connections: 2, accepted: 2, closed: 0, bytesRead: 6 });
    expect(worker).toMatchObject({ connections: 0, queued: 0, accepted: 2, bytesRead: 6, closed: 2 });
    expect(out.seen.filter((s: string) => s === 'close ERR_NBIO_POLLER_FAILED')).toHaveLength(2);
    expect(out.stopped).toMatchObject({ connections: 0, accepted: 4, closed: 4, closedBy: { ERR_NBIO_POLLER_FAILED: 2, local: 2 } });
  });

  it('refuses options it does not know and a perPoller that is not a boolean', () => {
    const engine = scope.engine();
    expect(() => engine.stats({ perPoller: 1 as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
    expect(() => engine.stats({ pollers: true } as object)).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
    expect(() => engine.stats(null as unknown as object)).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
    expect(engine.stats({ perPoller: true }).pollers).toHaveLength(1);
    expect(engine.stats({ perPoller: false }).pollers).toBeUndefined();
  });
});
