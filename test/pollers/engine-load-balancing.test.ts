// pollers 2 and 4 with each loadBalancing rule: 200 connections spread as
// the rule says (round-robin evenly, hash by fd % pollers, least-connections
// to the poller that had connections closed), all echoed; stop() ends
// every worker thread.
import { closeSync, openSync, readdirSync } from 'node:fs';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Engine, LoadBalancing } from '../../host/index.js';
import { useScope, type Scope } from '../helpers.js';

const handlers = new URL('../fixtures/poller-tag.mjs', import.meta.url);
const threads = () => readdirSync('/proc/self/task').length;

interface Served {
  socket: net.Socket;
  poller: number;
  fd: number;
}

/**
 * Opens `n` connections one after another; each says which poller serves it.
 * `between(i)` runs after the i-th connection is served.
 */
async function open(scope: Scope, engine: Engine, n: number, between?: (i: number) => void): Promise<Served[]> {
  const served: Served[] = [];
  for (let i = 0; i < n; i++) {
    const socket = await scope.connect(engine.addrs[0]);
    const message = `m${i}`;
    socket.write(message);
    const text = await readLine(socket, message);
    const [poller, fd] = text.split(':').map(Number);
    served.push({ socket, poller, fd });
    between?.(i);
  }
  return served;
}

/** Reads "<poller>:<fd>:<message>" from a socket. */
function readLine(socket: net.Socket, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk;
      if (text.endsWith(`:${message}`)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after "${text}"`)));
  });
}

function counts(served: Served[], pollers: number): number[] {
  const c = new Array<number>(pollers).fill(0);
  for (const s of served) c[s.poller]++;
  return c;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe.each([2, 4])('loadBalancing with %i pollers', (pollers) => {
  const scope = useScope();
  const start = async (loadBalancing: LoadBalancing) => {
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], pollers, loadBalancing, handlers });
    await engine.start();
    return engine;
  };

  it('round-robin: every poller serves the same number', async () => {
    const before = threads();
    const engine = await start('round-robin');
    const served = await open(scope, engine, 200);
    expect(counts(served, pollers)).toEqual(new Array(pollers).fill(200 / pollers));
    await until(() => engine.connCount === 200);
    await engine.stop();
    await until(() => threads() <= before); // every worker thread has ended
  });

  it('hash: the poller is the descriptor modulo the number of pollers', async () => {
    const engine = await start('hash');
    // The client's socket and the accepted one are both this process's
    // descriptors, so one after another they would all share a parity and
    // land on the same poller: a descriptor held after every other
    // connection shifts the next ones.
    const spacers: number[] = [];
    try {
      const served = await open(scope, engine, 200, (i) => {
        if (i % 2 === 0) spacers.push(openSync('/dev/null', 'r'));
      });
      for (const s of served) expect(s.poller).toBe(s.fd % pollers);
      expect(new Set(served.map((s) => s.poller)).size).toBeGreaterThan(1);
    } finally {
      for (const fd of spacers) closeSync(fd);
    }
  });

  it('least-connections: new connections go to the poller that lost some', async () => {
    const engine = await start('least-connections');
    const served = await open(scope, engine, 160);
    expect(counts(served, pollers)).toEqual(new Array(pollers).fill(160 / pollers));
    const onFirst = served.filter((s) => s.poller === 0).slice(0, 30);
    for (const s of onFirst) s.socket.destroy();
    await until(() => engine.connCount === 130);
    const refill = await open(scope, engine, 30);
    expect(refill.every((s) => s.poller === 0)).toBe(true);
    const rest = await open(scope, engine, 10);
    expect(rest).toHaveLength(10);
  });

  it('reuseport: every poller listens and the kernel spreads connections', async () => {
    const engine = await start('reuseport');
    const served = await open(scope, engine, 200);
    expect(counts(served, pollers).every((n) => n > 0)).toBe(true);
  });
});

describe('several pollers on other networks', () => {
  const scope = useScope();

  it('unix: the engine thread accepts and hands connections round-robin', async () => {
    const path = `${scope.tempDir()}/lb.sock`;
    const engine = scope.engine({ network: 'unix', addrs: [path], pollers: 2, handlers });
    await engine.start();
    const served = await open(scope, engine, 20);
    expect(counts(served, 2)).toEqual([10, 10]);
  });

  it('udp: every poller binds the port; a peer\'s datagrams always reach the same poller', async () => {
    const engine = scope.engine({ network: 'udp', addrs: ['127.0.0.1:0'], pollers: 2, handlers });
    await engine.start();
    const port = Number(engine.addrs[0].split(':')[1]);
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const client = await scope.udp();
      const pollers = new Set<string>();
      const replies = new Promise<void>((resolve) => {
        let n = 0;
        client.on('message', (msg) => {
          pollers.add(String(msg).split(':')[0]);
          if (++n === 3) resolve();
        });
      });
      for (let k = 0; k < 3; k++) client.send(`d${k}`, port, '127.0.0.1');
      await replies;
      expect(pollers.size).toBe(1);
      seen.add(Number([...pollers][0]));
    }
    expect(seen).toEqual(new Set([0, 1]));
  });
});
