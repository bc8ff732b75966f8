// Accept failures: a listener whose accept fails with EMFILE pauses, and
// serves the connections waiting in its backlog once descriptors free up.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

/**
 * A server started under a small descriptor limit: it runs out of
 * descriptors (EMFILE) while connections wait in its backlog.
 */
const SERVER = `
  import { Engine } from ${JSON.stringify(new URL('../../dist/host/index.js', import.meta.url).href)};
  const server = new Engine({ addrs: ['127.0.0.1:0'] });
  let opened = 0;
  const acceptErrors = new Set();
  server.onOpen(() => { opened++; });
  server.onAcceptError((err) => acceptErrors.add(err.code + ' ' + err.syscall));
  server.onData((conn, data) => conn.write(Buffer.from(data)));
  await server.start();
  console.log('PORT ' + server.addrs[0].split(':')[1]);
  process.stdin.on('data', async () => {
    console.log('ACCEPT_ERRORS ' + [...acceptErrors].join(','));
    console.log('OPENED ' + opened);
    await server.stop();
  });
`;

describe('accept errors', () => {
  it('pauses the listener on EMFILE and serves the waiting connections once descriptors free up', async () => {
    const child = spawn('bash', ['-c', `ulimit -n 64 && exec "${process.execPath}" --input-type=module -e "$0"`, SERVER], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    const next = (prefix: string) =>
      new Promise<string>((resolve) => {
        const onLine = (line: string) => {
          if (!line.startsWith(prefix)) return;
          lines.off('line', onLine);
          resolve(line.slice(prefix.length));
        };
        lines.on('line', onLine);
      });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const sockets: net.Socket[] = [];
    try {
      const port = Number(await next('PORT '));
      // More connections than the server has descriptors for. Each one
      // sends a message and closes as soon as its echo is back, which frees
      // a descriptor on the server so that a waiting connection can be taken.
      const total = 100;
      const echoed = await Promise.all(
        Array.from({ length: total }, (_, i) => {
          const message = `hello ${i}`;
          const socket = net.connect(port, '127.0.0.1');
          sockets.push(socket);
          return new Promise<string>((resolve, reject) => {
            let got = '';
            socket.on('error', reject);
            socket.on('data', (chunk) => {
              got += chunk.toString();
              if (got.length >= message.length) {
                socket.destroy();
                resolve(got);
              }
            });
            socket.write(message);
          });
        }),
      );
      expect(echoed).toEqual(Array.from({ length: total }, (_, i) => `hello ${i}`));
      const acceptErrors = next('ACCEPT_ERRORS ');
      const opened = next('OPENED ');
      child.stdin!.end('report\n');
      expect(await acceptErrors).toBe('EMFILE accept');
      expect(Number(await opened)).toBe(total);
      expect(await exited).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
      child.kill();
    }
  });
});
