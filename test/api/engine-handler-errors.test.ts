// Exceptions thrown by handlers: they do not disturb the engine and surface as
// uncaught exceptions after their batch.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * In a child process (an uncaught exception is the point): a handler that
 * throws must not disturb the engine — the rest of the batch is delivered,
 * other connections keep working — and the error must surface as an
 * uncaught exception afterwards.
 */
const SCRIPT = `
  import net from 'node:net';
  import { Engine } from ${JSON.stringify(new URL('../../dist/host/index.js', import.meta.url).href)};
  const seen = [];
  process.on('uncaughtException', (err) => seen.push('uncaught:' + err.message));
  const server = new Engine({ addrs: ['127.0.0.1:0'] });
  server.onData((conn, data) => {
    const text = Buffer.from(data).toString();
    if (text === 'boom') throw new Error('handler failed');
    conn.write(data);
  });
  await server.start();
  const [host, port] = server.addrs[0].split(':');
  const talk = (message) => new Promise((resolve) => {
    const socket = net.connect(Number(port), host, () => socket.write(message));
    socket.on('data', (d) => { seen.push('echo:' + d); socket.destroy(); resolve(); });
    socket.on('error', () => resolve());
    if (message === 'boom') setTimeout(() => { socket.destroy(); resolve(); }, 200);
  });
  await talk('boom');
  await talk('still alive');
  await server.stop();
  console.log(JSON.stringify(seen));
`;

describe('handler exceptions', () => {
  it('do not disturb the engine and surface as uncaught exceptions', () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { encoding: 'utf8', timeout: 20_000 });
    expect(child.status).toBe(0);
    expect(JSON.parse(child.stdout.trim())).toEqual(['uncaught:handler failed', 'echo:still alive']);
  });
});
