// The examples (npm start, npm run example:client) run as a user runs them: an
// echo round trip, a bad address, nothing listening.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const example = (name: string) => fileURLToPath(new URL(`../../dist/examples/${name}.js`, import.meta.url));

describe('examples (npm start, npm run example:client)', () => {
  it('the echo client gets its 4 MiB back intact from the echo server', async () => {
    const server = spawn(process.execPath, [example('echo-server'), '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: server.stdout! });
      let address = '';
      for await (const line of lines) {
        const m = /^echo server listening on (\S+)$/.exec(line);
        if (m) {
          address = m[1];
          break;
        }
      }
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      const client = spawnSync(process.execPath, [example('echo-client'), address], { encoding: 'utf8', timeout: 60_000 });
      expect(client.stdout).toContain('OK: 4194304 bytes echoed intact');
      expect(client.status).toBe(0);
    } finally {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
  });

  it('the echo server reports a bad address in one line', () => {
    for (const [address, reason] of [['nonsense', /missing ":port"/], ['127.0.0.1:70000', /out of range/]] as const) {
      const server = spawnSync(process.execPath, [example('echo-server'), address], { encoding: 'utf8', timeout: 60_000 });
      expect(server.status).toBe(1);
      expect(server.stderr.trim().split('\n')).toEqual([expect.stringMatching(reason)]);
      expect(server.stderr).toMatch(new RegExp(`^echo server: cannot listen on ${address}: `));
    }
  });

  it('the echo client fails cleanly when nothing listens', () => {
    const client = spawnSync(process.execPath, [example('echo-client'), '127.0.0.1:1'], { encoding: 'utf8', timeout: 60_000 });
    expect(client.stdout).toMatch(/FAIL: dial 127\.0\.0\.1:1: connect ECONNREFUSED/);
    expect(client.status).toBe(1);
  });
});
