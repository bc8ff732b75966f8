// A UDP engine: one Conn per remote peer, the same object in its onOpen,
// every onData and its onClose; one onData per datagram and one datagram
// per write, both ways.
import type { Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { signal, split, useScope } from '../helpers.js';

/** The next `n` datagrams a node:dgram socket receives. */
function datagrams(socket: Socket, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    const onMessage = (msg: Buffer) => {
      got.push(msg);
      if (got.length === n) {
        socket.off('message', onMessage);
        resolve(got);
      }
    };
    socket.on('message', onMessage);
  });
}

describe('UDP: peers', () => {
  const scope = useScope();

  it('gives each peer one Conn for all its events, and keeps datagram boundaries both ways', async () => {
    const server = scope.engine({ network: 'udp', addrs: ['127.0.0.1:0'] });
    const opened: Conn[] = [];
    const seen = new Map<Conn, number[]>();
    const closed: [Conn, unknown][] = [];
    server.onOpen((conn) => {
      opened.push(conn);
      seen.set(conn, []);
    });
    server.onData((conn, data) => {
      seen.get(conn)!.push(data.length); // throws (and fails the test) for a Conn not opened
      conn.write(Buffer.concat([Buffer.from(`${opened.indexOf(conn)}:`), data]));
    });
    server.onClose((conn, err) => closed.push([conn, err]));
    await server.start();
    const { port } = split(server.addrs[0]);
    expect(server.addrs[0]).toBe(`127.0.0.1:${port}`);

    const [a, b] = [await scope.udp(), await scope.udp()];
    const sizes = [1, 700, 3, 1400, 20];
    const repliesA = datagrams(a, sizes.length);
    const repliesB = datagrams(b, sizes.length);
    for (const size of sizes) {
      a.send(Buffer.alloc(size, 'a'), port, '127.0.0.1');
      b.send(Buffer.alloc(size, 'b'), port, '127.0.0.1');
    }
    const [gotA, gotB] = await Promise.all([repliesA, repliesB]);

    expect(opened).toHaveLength(2);
    expect([...seen.values()]).toEqual([sizes, sizes]);
    const tagOf = (got: Buffer[]) => got[0].toString().slice(0, 2);
    for (const [got, fill] of [[gotA, 'a'], [gotB, 'b']] as const) {
      expect(got.map((d) => d.length - 2)).toEqual(sizes);
      for (const d of got) expect(d.toString().slice(0, 2)).toBe(tagOf(got)); // every reply from the same Conn
      for (const d of got) expect(d.subarray(2).every((c) => c === fill.charCodeAt(0))).toBe(true);
    }
    expect(new Set([tagOf(gotA), tagOf(gotB)])).toEqual(new Set(['0:', '1:']));

    const peerA = opened[Number(tagOf(gotA)[0])];
    expect(peerA.transport).toBe('udp');
    expect(peerA.remoteAddr).toEqual({ address: '127.0.0.1', port: a.address().port, family: 'IPv4' });
    expect(peerA.localAddr).toEqual({ address: '127.0.0.1', port, family: 'IPv4' });
    expect(server.connCount).toBe(2);

    await server.stop();
    expect(closed.map(([conn]) => conn).sort()).toEqual([...opened].sort());
    expect(closed.every(([, err]) => err === undefined)).toBe(true);
  });

  it('a closed peer that sends again is a new Conn', async () => {
    const server = scope.engine({ network: 'udp4', addrs: ['127.0.0.1:0'] });
    const opened: Conn[] = [];
    const closedOnce = signal<Conn>();
    const reopened = signal<Conn>();
    server.onOpen((conn) => {
      opened.push(conn);
      if (opened.length === 2) reopened.resolve(conn);
    });
    server.onData((conn) => {
      if (opened.length === 1) conn.close();
    });
    server.onClose((conn) => closedOnce.resolve(conn));
    await server.start();
    const client = await scope.udp();
    const { port } = split(server.addrs[0]);
    client.send('first', port, '127.0.0.1');
    const first = await closedOnce.promise;
    expect(server.connCount).toBe(0);
    client.send('second', port, '127.0.0.1');
    const second = await reopened.promise;
    expect(second).not.toBe(first);
    expect(second.remoteAddr).toEqual(first.remoteAddr);
  });
});
