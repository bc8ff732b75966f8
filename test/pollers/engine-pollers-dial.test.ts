// dial() and addConn() on an engine with several pollers: the connection
// lands on a poller by the loadBalancing rule; one on a worker poller is
// served by the handlers module there, and the Conn returned on the
// engine's thread stands in for it (writes, end and close act there).
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { signal, useScope } from '../helpers.js';

const handlers = new URL('../fixtures/poller-tag.mjs', import.meta.url);

/**
 * A server that answers "ping" with "pong", and records the other messages:
 * the handlers module answers "pong" with "<poller>:<fd>:pong".
 */
async function pingServer(scope: ReturnType<typeof useScope>) {
  const tags: string[] = [];
  const closed: string[] = [];
  const tagged = new Map<number, (tag: string) => void>();
  const server = await scope.server((socket) => {
    socket.on('data', (d) => {
      const text = String(d);
      if (text === 'ping') socket.write('pong');
      else {
        tags.push(text);
        tagged.get(socket.remotePort!)?.(text);
      }
    });
    socket.on('end', () => closed.push(String(socket.remotePort)));
  });
  const port = (server.address() as net.AddressInfo).port;
  return { port, tags, closed, tagged };
}

describe('pollers: dial and addConn', () => {
  const scope = useScope();

  it('places dialed connections round-robin; the stand-ins write and end on the worker', async () => {
    const engine = scope.engine({ pollers: 2, handlers });
    await engine.start();
    const { port, tagged, closed } = await pingServer(scope);
    const conns: Conn[] = [];
    for (let i = 0; i < 4; i++) conns.push(await engine.dial('tcp', `127.0.0.1:${port}`));
    const pollers: number[] = [];
    for (const conn of conns) {
      expect(conn.remoteAddr).toEqual({ address: '127.0.0.1', port, family: 'IPv4' });
      const tag = signal<string>();
      tagged.set(conn.localAddr!.port, tag.resolve);
      conn.write('ping');
      pollers.push(Number((await tag.promise).split(':')[0]));
    }
    expect(pollers.sort()).toEqual([0, 0, 1, 1]);
    for (const conn of conns) conn.end();
    while (closed.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    for (const conn of conns) expect(() => conn.write('x')).toThrow(expect.objectContaining({ code: 'ERR_NBIO_CLOSED' }));
  });

  it('rejects a refused dial placed on a worker', async () => {
    const engine = scope.engine({ pollers: 2, handlers, loadBalancing: 'round-robin' });
    await engine.start();
    const probe = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => probe.once('listening', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const results = await Promise.allSettled([0, 1].map(() => engine.dial('tcp', `127.0.0.1:${port}`)));
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'ECONNREFUSED' } });
  });

  it('adopts node:net sockets on every poller', async () => {
    const engine = scope.engine({ pollers: 2, handlers });
    await engine.start();
    const { port, tagged } = await pingServer(scope);
    const pollers: number[] = [];
    for (let i = 0; i < 2; i++) {
      const socket = await scope.connect(`127.0.0.1:${port}`);
      const conn = await engine.addConn(socket);
      const tag = signal<string>();
      tagged.set(conn.localAddr!.port, tag.resolve);
      conn.write('ping');
      pollers.push(Number((await tag.promise).split(':')[0]));
    }
    expect(pollers.sort()).toEqual([0, 1]);
    expect(engine.connCount).toBe(2);
  });
});
