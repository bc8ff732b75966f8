// Runs a test script in a child process whose threads (worker pollers
// included) preload test/fixtures/writable-native.cjs, so that the
// handlers in test/fixtures/containment-handlers.mjs can make a worker's
// epoll_wait fail. The script gets a prelude (below) and prints its
// result as JSON on its last line of output.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const href = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);

/**
 * What every script can use: `Engine`, `net`, `handlers` (the containment
 * handlers' URL), `seen` (what the handlers of every thread saw, from the
 * BroadcastChannel), `fds()` (what this process has open, as a sorted
 * list, libuv's lazily opened /dev/null left out), `until(what, done)`
 * (waits up to 10 s), `connect(address)` and `tagOf(socket, text)` (the
 * tag of the poller that echoes `text`: 'main:', 'wrk0:'…).
 */
export const PRELUDE = `
  import net from 'node:net';
  import { readdirSync, readlinkSync } from 'node:fs';
  import { BroadcastChannel } from 'node:worker_threads';
  import { Engine } from ${href('../../dist/host/index.js')};
  const handlers = new URL(${href('../fixtures/containment-handlers.mjs')});
  const seen = [];
  const channel = new BroadcastChannel('nbio-containment');
  channel.onmessage = (message) => seen.push(message.data);
  const fds = () => readdirSync('/proc/self/fd')
    .map((fd) => { try { return readlinkSync('/proc/self/fd/' + fd); } catch { return 'gone'; } })
    .filter((what) => what !== '/dev/null' && what !== 'gone').sort();
  async function until(what, done) {
    for (let i = 0; !done(); i++) {
      if (i === 1000) throw new Error('timed out waiting for ' + what + '; seen: ' + JSON.stringify(seen));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  const sockets = [];
  function connect(address) {
    const colon = address.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const s = net.connect(Number(address.slice(colon + 1)), address.slice(0, colon), () => resolve(s));
      sockets.push(s);
      s.once('error', reject);
      s.on('error', () => {});
    });
  }
  function tagOf(s, text = 'who') {
    return new Promise((resolve) => {
      let got = '';
      const onData = (d) => {
        got += d;
        if (got.length >= 5 + text.length) { s.off('data', onData); s.off('close', onClose); resolve(got.slice(0, 5)); }
      };
      const onClose = () => resolve('closed unserved');
      s.on('data', onData);
      s.once('close', onClose);
      s.write(text);
    });
  }
  async function closeAll() {
    await Promise.all(sockets.map((s) => new Promise((resolve) => { if (s.closed) resolve(); else { s.once('close', resolve); s.destroy(); } })));
    channel.close();
  }
`;

/** Runs `PRELUDE + body` in a child process (at most `timeoutMs`); resolves with what its last line says. */
export function runContained(body: string, timeoutMs = 60_000): Promise<{ result: unknown; stderr: string; status: number | null }> {
  const preload = fileURLToPath(new URL('../fixtures/writable-native.cjs', import.meta.url));
  const child = spawn(process.execPath, ['--require', preload, '--input-type=module', '-e', PRELUDE + body], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (status) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      let result: unknown;
      try {
        result = JSON.parse(last);
      } catch {
        result = last;
      }
      resolve({ result, stderr, status });
    });
  });
}
