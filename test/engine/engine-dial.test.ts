// Dialing: refused and timed-out connects, host names resolved, onOpen before
// the dial resolves, and dials before start.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { signal, useScope } from '../helpers.js';

describe('dial', () => {
  const scope = useScope();

  it('rejects with ECONNREFUSED when nothing listens, without onOpen or onClose', async () => {
    const free = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const client = scope.engine();
    const calls: string[] = [];
    client.onOpen(() => calls.push('open'));
    client.onClose(() => calls.push('close'));
    await client.start();
    await expect(client.dial('tcp', `127.0.0.1:${free}`)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
      syscall: 'connect',
      address: '127.0.0.1',
      port: free,
    });
    expect(calls).toEqual([]);
    expect(client.connCount).toBe(0);
  });

  it('rejects with ERR_NBIO_DIAL_TIMEOUT when the connect never completes', async () => {
    const address = await scope.unresponsiveAddress();
    const client = scope.engine();
    await client.start();
    await expect(client.dial('tcp', address, { timeout: 200 })).rejects.toMatchObject({ code: 'ERR_NBIO_DIAL_TIMEOUT' });
    expect(client.connCount).toBe(0);
  });

  it('resolves host names and calls onOpen before the dial resolves', async () => {
    const server = await scope.echoServer();
    const port = server.addrs[0].split(':')[1];
    const client = scope.engine();
    const order: string[] = [];
    const echoed = signal<string>();
    client.onOpen(() => order.push('onOpen'));
    client.onData((_c, data) => echoed.resolve(Buffer.from(data).toString()));
    await client.start();
    const conn = await client.dial('tcp4', `localhost:${port}`);
    order.push('resolved');
    expect(order).toEqual(['onOpen', 'resolved']);
    expect(conn.remoteAddr).toMatchObject({ address: '127.0.0.1', port: Number(port) });
    conn.session = { name: 'kept' };
    conn.write('ping');
    expect(await echoed.promise).toBe('ping');
    expect(conn.session).toEqual({ name: 'kept' });
  });

  it('refuses to dial before start', async () => {
    const client = scope.engine();
    await expect(client.dial('tcp', '127.0.0.1:9')).rejects.toMatchObject({ code: 'ERR_NBIO_NOT_RUNNING' });
  });
});
