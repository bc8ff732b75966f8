// engine.dial('udp', …): a connected UDP socket as a Conn, exchanging
// datagrams with that one peer.
import { describe, expect, it } from 'vitest';
import { Collector, signal, split, useScope } from '../helpers.js';

describe('UDP: dial', () => {
  const scope = useScope();

  it('exchanges datagrams with a node:dgram peer', async () => {
    const peer = await scope.udp();
    peer.on('message', (msg, rinfo) => peer.send(Buffer.concat([Buffer.from('re:'), msg]), rinfo.port, rinfo.address));
    const client = scope.engine();
    const got: string[] = [];
    const three = signal();
    client.onData((_conn, data) => {
      got.push(Buffer.from(data).toString());
      if (got.length === 3) three.resolve();
    });
    await client.start();
    const conn = await client.dial('udp', `127.0.0.1:${peer.address().port}`);
    expect(conn.transport).toBe('udp');
    expect(conn.remoteAddr).toEqual({ address: '127.0.0.1', port: peer.address().port, family: 'IPv4' });
    for (const m of ['one', 'two', 'three']) conn.write(m);
    await three.promise;
    expect(got.sort()).toEqual(['re:one', 're:three', 're:two']);
  });

  it('dials a UDP engine: one peer on the server side, echoing', async () => {
    const server = scope.engine({ network: 'udp', addrs: ['127.0.0.1:0'] });
    server.onData((conn, data) => conn.write(Buffer.from(data)));
    await server.start();
    const client = scope.engine();
    const received = new Collector(3 * 1000);
    client.onData((_conn, data) => received.push(data));
    await client.start();
    const conn = await client.dial('udp4', server.addrs[0]);
    const sent = Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(1000, 2), Buffer.alloc(1000, 3)]);
    for (let i = 0; i < 3; i++) conn.write(sent.subarray(i * 1000, (i + 1) * 1000));
    expect((await received.done).length).toBe(sent.length);
    expect(server.connCount).toBe(1);
    expect(conn.localAddr?.port).toBeGreaterThan(0);
    expect(split(server.addrs[0]).port).toBe(conn.remoteAddr?.port);
  });

  it('reports a closed port as ECONNREFUSED on the dialed connection', async () => {
    const gone = await scope.udp();
    const port = gone.address().port;
    gone.close();
    const client = scope.engine();
    const closed = signal<unknown>();
    client.onClose((_conn, err) => closed.resolve(err));
    await client.start();
    const conn = await client.dial('udp', `127.0.0.1:${port}`);
    conn.write('anyone?'); // the ICMP port-unreachable comes back as an error on the next receive
    expect(await closed.promise).toMatchObject({ code: 'ECONNREFUSED', syscall: 'recvfrom' });
  });
});
