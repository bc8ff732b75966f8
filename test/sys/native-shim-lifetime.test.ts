// The native shim's watchers over the lifetime of a process or a thread:
// exit, exceptions from the callback, garbage collection, worker threads
// (in child processes, and in a worker of this process). Conventions in
// native-shim-fixtures.ts.
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { addonPath, EPOLL, native } from '../../host/sys/native.js';
import { closeTrackedAfterEach, enc, scratch, tcpPair, track, waitFor, withTimeout } from './native-shim-fixtures.js';

const CHILD_TIMEOUT_MS = 30_000;

closeTrackedAfterEach();

// --- process exit, exceptions, worker threads (child processes) ------------------------------------------

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node [flags] -e script` with the addon path in NBIO_ADDON. */
function runChild(script: string, flags: string[] = []): Promise<ChildResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NBIO_ADDON: addonPath, MALLOC_PERTURB_: '165' };
  delete env.NODE_OPTIONS;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, '-e', script], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: CHILD_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

// Shared prelude of child scripts: `ready()` returns an epoll fd that becomes
// readable once the returned `connect()` is called.
const PRELUDE = `
const native = require(process.env.NBIO_ADDON);
function ready() {
  const ep = native.epollCreate();
  const lfd = native.listen(4, '127.0.0.1', 0, 4, 0);
  const port = native.getsockname(lfd).port;
  if (ep < 0 || lfd < 0 || native.epollCtl(ep, 1, lfd, 1, 0) !== 0) throw new Error('setup failed');
  const fds = [ep, lfd];
  return {
    ep, fds,
    connect() { fds.push(native.connect(4, '127.0.0.1', port)); },
    closeAll() { for (const fd of fds) native.close(fd); },
  };
}
`;

describe('watchers and process lifetime (child processes)', () => {
  it('a watcher stopped after firing once lets the process exit; a nextTick from the callback runs before it fires again', async () => {
    const r = await runChild(`${PRELUDE}
      const s = ready();
      let calls = 0;
      const h = native.watchStart(s.ep, () => {
        calls++;
        // Stopped from a tick, with the epoll fd still ready: the callback
        // must not run again before the tick does.
        process.nextTick(() => { native.watchStop(h); s.closeAll(); });
      });
      s.connect();
      process.on('exit', () => console.log('calls=' + calls));
    `);
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.stdout.trim()).toBe('calls=1');
  });

  it('a ref\'d watcher keeps the process alive; an unref\'d one does not', async () => {
    const alive = await runChild(`${PRELUDE}
      const ep = native.epollCreate();
      const h = native.watchStart(ep, () => console.log('unexpected'));
      native.watchRef(h, false);
      native.watchRef(h, true);
      // An unref'd timer can only fire if something else keeps the loop alive.
      setTimeout(() => { console.log('alive'); native.watchStop(h); native.close(ep); }, 20).unref();
    `);
    expect(alive).toMatchObject({ code: 0, signal: null });
    expect(alive.stdout.trim()).toBe('alive');

    const unref = await runChild(`${PRELUDE}
      const ep = native.epollCreate();
      const h = native.watchStart(ep, () => console.log('unexpected'));
      native.watchRef(h, false); // left running: closed by the env teardown hook at exit
      setTimeout(() => console.log('kept alive'), 20).unref();
      process.on('exit', () => console.log('exit'));
    `);
    expect(unref).toMatchObject({ code: 0, signal: null });
    expect(unref.stdout.trim()).toBe('exit');
  });

  it('an exception thrown by the callback goes to process "uncaughtException"', async () => {
    const r = await runChild(`${PRELUDE}
      const s = ready();
      const h = native.watchStart(s.ep, () => { throw new Error('boom'); });
      process.on('uncaughtException', (e) => {
        console.log('caught ' + e.message);
        native.watchStop(h);
        s.closeAll();
      });
      s.connect();
    `);
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.stdout.trim()).toBe('caught boom');
  });

  it('process.exit() from inside a callback, with the watcher still running, exits cleanly', async () => {
    const r = await runChild(`${PRELUDE}
      const s = ready();
      native.watchStart(s.ep, () => process.exit(7));
      s.connect();
    `);
    expect(r).toMatchObject({ code: 7, signal: null, stderr: '' });
  });

  it('a handle garbage-collected while its watcher runs is safe (freed after close)', async () => {
    const r = await runChild(
      `${PRELUDE}
      const s = ready();
      let calls = 0;
      const keepAlive = setInterval(() => {}, 1000);
      const registry = new FinalizationRegistry(() => {
        console.log('collected');
        s.connect();
      });
      (function () {
        const h = native.watchStart(s.ep, () => {
          // The handle is gone, so this watcher can never be stopped: it is
          // unref'd and the teardown hook closes it at exit.
          if (++calls === 1) { console.log('fired'); clearInterval(keepAlive); }
        });
        native.watchRef(h, false);
        registry.register(h, 0);
      })();
      setImmediate(() => globalThis.gc());
    `,
      ['--expose-gc'],
    );
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.stdout.trim().split('\n')).toEqual(['collected', 'fired']);
  });

  it('worker threads: terminate (idle or inside a callback) and natural exit with live watchers do not crash', async () => {
    const r = await runChild(`
      const { Worker } = require('node:worker_threads');
      const workerSrc = ${JSON.stringify(`${PRELUDE}
        const { parentPort, workerData } = require('node:worker_threads');
        const s = ready();
        let calls = 0;
        const h = native.watchStart(s.ep, () => {
          if (++calls > 1) return;
          parentPort.postMessage('fired');
          if (workerData === 'busy') for (;;) {}
          if (workerData === 'stop') { native.watchStop(h); s.closeAll(); }
        });
        if (workerData === 'unref') native.watchRef(h, false);
        s.connect();
      `)};
      function run(mode) {
        return new Promise((resolve, reject) => {
          const w = new Worker(workerSrc, { eval: true, workerData: mode });
          w.on('error', reject);
          w.on('message', (m) => {
            if (m === 'fired' && (mode === 'idle' || mode === 'busy')) w.terminate();
          });
          w.on('exit', (code) => resolve(code));
        });
      }
      (async () => {
        const codes = [];
        for (let i = 0; i < 3; i++)
          for (const mode of ['idle', 'busy', 'stop', 'unref']) codes.push(mode + ':' + (await run(mode)));
        console.log(codes.join(' '));
      })();
    `);
    expect(r).toMatchObject({ code: 0, signal: null });
    const expected = Array.from({ length: 3 }, () => 'idle:1 busy:1 stop:0 unref:0').join(' ');
    expect(r.stdout.trim()).toBe(expected);
  });
});

describe('watchers in a worker thread (in process)', () => {
  it('a terminated worker with an active watcher leaves this process running', async () => {
    const src = `${PRELUDE}
      const { parentPort } = require('node:worker_threads');
      const s = ready();
      native.watchStart(s.ep, () => parentPort.postMessage({ fired: true, fds: s.fds }));
      s.connect();
    `;
    const w = new Worker(src, { eval: true, env: { ...process.env, NBIO_ADDON: addonPath } });
    const fds = await withTimeout(
      new Promise<number[]>((resolve, reject) => {
        w.once('error', reject);
        w.once('message', (m: { fds: number[] }) => resolve(m.fds));
      }),
      'worker watcher',
    );
    expect(fds).toHaveLength(3);
    for (const fd of fds) track(fd); // fds are process-wide: close them here
    expect(await w.terminate()).toBe(1);

    // This thread's own shim still works afterwards.
    const { cfd, sfd } = tcpPair();
    expect(native.write(cfd, enc.encode('ok'), 0, 2)).toBe(2);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, scratch, 0, 8)).toBe(2);
  });
});
