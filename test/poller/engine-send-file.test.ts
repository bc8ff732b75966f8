// conn.sendFile(): bytes of a file sent by the kernel (sendfile(2)), in
// order with writes, continued as a slow reader makes room, the
// connection's own descriptor of the file closed when it is done.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Conn } from '../../host/index.js';
import { openDescriptors, signal, useScope } from '../helpers.js';

const MiB = 1024 * 1024;

/** Reads everything until the end of stream, pausing after every chunk so the sender keeps finding the socket full. */
function readSlowly(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    socket.pause();
    setImmediate(() => socket.resume());
  });
  const all = new Promise<Buffer>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('end', () => resolve(Buffer.concat(chunks)));
  });
  socket.resume();
  return all;
}

describe('conn.sendFile()', () => {
  const scope = useScope();

  it('sends files larger than the socket buffers to a slow reader, byte-exact and in order with the writes around them', async () => {
    const dir = scope.tempDir();
    const big = randomBytes(16 * MiB);
    const small = randomBytes(100_000);
    writeFileSync(join(dir, 'big'), big);
    writeFileSync(join(dir, 'small'), small);
    const queued = signal<number>();
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => {
      conn.setWriteBufferSize(65536);
      conn.write('head|');
      conn.sendFile(join(dir, 'big'), { offset: 1000, length: 12 * MiB });
      queued.resolve(conn.bufferedAmount);
      conn.write('|middle|');
      const fd = openSync(join(dir, 'small'), 'r');
      conn.sendFile(fd);
      closeSync(fd); // the connection has a descriptor of its own
      conn.writev(['|', 'tail']);
      conn.end();
    });
    const closed = signal<unknown>();
    server.onClose((_conn, err) => closed.resolve(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.pause();
    // The reader is paused: most of the 12 MiB waits in the connection's queue.
    expect(await queued.promise).toBeGreaterThan(4 * MiB);
    const received = await readSlowly(socket);
    const expected = Buffer.concat([
      Buffer.from('head|'), big.subarray(1000, 1000 + 12 * MiB), Buffer.from('|middle|'), small, Buffer.from('|tail'),
    ]);
    expect(received.length).toBe(expected.length);
    expect(received.equals(expected)).toBe(true);
    expect(await closed.promise).toBeUndefined();
    expect(openDescriptors().filter((path) => path.startsWith(dir))).toEqual([]);
  });

  it('takes a FileHandle, sends the rest of the file by default, and counts it in bufferedAmount until the peer reads', async () => {
    const dir = scope.tempDir();
    const content = randomBytes(8 * MiB);
    writeFileSync(join(dir, 'f'), content);
    const handle = await open(join(dir, 'f'), 'r');
    const queued = signal<number>();
    const drained = signal<number>();
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => {
      conn.setWriteBufferSize(65536);
      conn.sendFile(handle, { offset: 5 });
      queued.resolve(conn.bufferedAmount);
    });
    server.onDrain((conn) => drained.resolve(conn.bufferedAmount));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.pause();
    expect(await queued.promise).toBeGreaterThan(0);
    await handle.close();
    const chunks: Buffer[] = [];
    let got = 0;
    const all = signal();
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got === content.length - 5) all.resolve();
    });
    socket.resume();
    await all.promise;
    expect(Buffer.concat(chunks).equals(content.subarray(5))).toBe(true);
    expect(await drained.promise).toBe(0);
  });

  it('closes the connection\'s descriptor of the file when the connection closes before the file was sent', async () => {
    const dir = scope.tempDir();
    writeFileSync(join(dir, 'f'), randomBytes(16 * MiB));
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    const sent = signal<Conn>();
    server.onOpen((conn) => {
      conn.setWriteBufferSize(65536);
      conn.sendFile(join(dir, 'f'));
      sent.resolve(conn);
    });
    const closed = signal<unknown>();
    server.onClose((_conn, err) => closed.resolve(err));
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.pause();
    const conn = await sent.promise;
    expect(conn.bufferedAmount).toBeGreaterThan(0);
    expect(openDescriptors().filter((path) => path.startsWith(dir))).toHaveLength(1);
    conn.close();
    expect(await closed.promise).toBeUndefined();
    expect(openDescriptors().filter((path) => path.startsWith(dir))).toEqual([]);
  });

  it('leaves no descriptor open when it runs out of descriptors while cutting a file over 2 GiB into pieces', () => {
    // A sparse file of 2 GiB + 1 byte: three pieces, each with a descriptor
    // of its own. A child with a low descriptor limit fills it but for two:
    // the path's descriptor and the second piece's are had, the third's
    // duplicate fails with EMFILE.
    const path = join(scope.tempDir(), 'sparse');
    writeFileSync(path, '');
    truncateSync(path, 2 * 2 ** 30 + 1);
    const engine = JSON.stringify(new URL('../../dist/host/index.js', import.meta.url).href);
    const script = `
      import { Engine } from ${engine};
      import { closeSync, openSync, readdirSync } from 'node:fs';
      import net from 'node:net';
      const server = new Engine({ addrs: ['127.0.0.1:0'] });
      const opened = new Promise((resolve) => server.onOpen(resolve));
      await server.start();
      const client = net.connect(Number(server.addrs[0].split(':').pop()), '127.0.0.1');
      const conn = await opened;
      const filler = [];
      try { for (;;) filler.push(openSync('/dev/null', 'r')); } catch {}
      closeSync(filler.pop());
      closeSync(filler.pop());
      const before = readdirSync('/proc/self/fd').length;
      let code;
      try { conn.sendFile(${JSON.stringify(path)}); } catch (err) { code = err.code; }
      console.log(code, readdirSync('/proc/self/fd').length - before);
      for (const fd of filler) closeSync(fd);
      client.destroy();
      await server.stop();
    `;
    const child = spawnSync('sh', ['-c', 'ulimit -n 200 && exec "$0" --input-type=module -e "$1"', process.execPath, script],
      { encoding: 'utf8', timeout: 20_000 });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('ERR_NBIO_INVALID_ARG 0');
    expect(child.status).toBe(0);
  });

  it('refuses what it cannot send: a range outside the file, no regular file, a missing path, a UDP connection, an ended connection', async () => {
    const dir = scope.tempDir();
    writeFileSync(join(dir, 'f'), Buffer.alloc(100));
    mkdirSync(join(dir, 'sub'));
    const results = signal<unknown[]>();
    const server = scope.engine({ addrs: ['127.0.0.1:0'] });
    server.onOpen((conn) => {
      const codeOf = (f: () => void) => {
        try {
          f();
          return 'sent';
        } catch (err) {
          return (err as { code?: string }).code;
        }
      };
      const found = [
        codeOf(() => conn.sendFile(join(dir, 'f'), { offset: 50, length: 51 })),
        codeOf(() => conn.sendFile(join(dir, 'f'), { offset: -1 })),
        codeOf(() => conn.sendFile(join(dir, 'sub'))),
        codeOf(() => conn.sendFile(join(dir, 'missing'))),
        codeOf(() => conn.sendFile(-3)),
        codeOf(() => conn.sendFile(join(dir, 'f'), { offset: 100 })), // empty: nothing to send
      ];
      conn.end();
      found.push(codeOf(() => conn.sendFile(join(dir, 'f'))));
      results.resolve(found);
    });
    await server.start();
    const socket = await scope.connect(server.addrs[0]);
    socket.resume();
    expect(await results.promise).toEqual([
      'ERR_NBIO_INVALID_ARG', 'ERR_NBIO_INVALID_ARG', 'ERR_NBIO_INVALID_ARG', 'ERR_NBIO_INVALID_ARG', 'ERR_NBIO_INVALID_ARG',
      'sent', 'ERR_NBIO_CLOSED',
    ]);
    expect(openDescriptors().filter((path) => path.startsWith(dir))).toEqual([]);

    const peer = await scope.udp();
    const client = scope.engine();
    await client.start();
    const conn = await client.dial('udp', `127.0.0.1:${peer.address().port}`);
    expect(() => conn.sendFile(join(dir, 'f'))).toThrow(expect.objectContaining({ code: 'ERR_NBIO_NOT_SUPPORTED' }));
  });
});
