// Faults in worker pollers (pollers: 2) stay contained, in a child process
// (the engine's thread raises uncaught exceptions on purpose):
// - a handler that throws in a worker behaves as on the engine's thread:
//   the worker goes on serving, the exception is raised in the engine's
//   thread as an uncaught exception;
// - a worker that dies anyway is noticed at once: its listener and
//   connections are closed (clients see the close, new connections go to
//   the live poller), onError and onClose (ERR_NBIO_POLLER_FAILED) follow
//   in the engine's thread, and stop() resolves;
// - a worker stuck in a handler is terminated by stop() and reported the
//   same way.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const ENGINE = JSON.stringify(new URL('../../dist/host/index.js', import.meta.url).href);
const HANDLERS = JSON.stringify(new URL('../fixtures/fault-handlers.mjs', import.meta.url).href);
const SEEN = JSON.stringify(new URL('../fixtures/fault-seen.mjs', import.meta.url).href);

/** Prelude of both scripts: an engine with two pollers, and a client that finds a connection on the worker. */
const PRELUDE = `
  import net from 'node:net';
  import { readdirSync, readlinkSync } from 'node:fs';
  import { Engine } from ${ENGINE};
  import { seen } from ${SEEN};
  // Descriptors, by what they are; libuv opens /dev/null once for itself on first use.
  const fds = () => readdirSync('/proc/self/fd')
    .map((fd) => { try { return readlinkSync('/proc/self/fd/' + fd); } catch { return 'gone'; } })
    .filter((what) => what !== '/dev/null' && what !== 'gone').sort().join(' ');
  const before = fds();
  /** Closes every client and waits until they are gone. */
  async function closeAll() {
    await Promise.all(sockets.map((s) => new Promise((resolve) => { if (s.destroyed && s.closed) resolve(); else { s.once('close', resolve); s.destroy(); } })));
  }
  const engine = new Engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers: ${HANDLERS} });
  await engine.start();
  const [host, port] = engine.addrs[0].split(':');
  const sockets = [];
  function connect() {
    return new Promise((resolve, reject) => {
      const s = net.connect(Number(port), host, () => resolve(s));
      s.on('error', () => {});
      sockets.push(s);
      s.once('error', reject);
    });
  }
  function talk(s, text) {
    return new Promise((resolve) => {
      let got = '';
      const onData = (d) => { got += d; if (got.length >= 5 + text.length) { s.off('data', onData); resolve(got.slice(0, 5)); } };
      s.on('data', onData);
      s.write(text);
    });
  }
  /** A connection the worker serves (the kernel spreads them by address hash). */
  async function onWorker() {
    for (let i = 0; i < 200; i++) {
      const s = await connect();
      if (await talk(s, 'who') === 'work:') return s;
    }
    throw new Error('no connection landed on the worker');
  }
`;

function run(body: string): Record<string, unknown> {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', PRELUDE + body], { encoding: 'utf8', timeout: 30_000 });
  expect(child.stderr).not.toMatch(/Error/);
  expect(child.status).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').pop()!);
}

describe('worker poller faults', () => {
  it("a handler's exception in a worker: the worker goes on, the error is raised in the engine's thread", () => {
    const out = run(`
      const uncaught = [];
      process.on('uncaughtException', (err) => uncaught.push(err.message));
      const s = await onWorker();
      s.write('boom');
      const after = await talk(s, 'still');
      const other = await onWorker();
      await closeAll();
      await engine.stop();
      console.log(JSON.stringify({ uncaught, after, other: other ? 'ok' : 'none', fds: fds() === before ? 'as before' : fds() + ' / ' + before }));
    `);
    expect(out).toEqual({ uncaught: ['handler failed in work:'], after: 'work:', other: 'ok', fds: 'as before' });
  });

  it('a worker that dies: its connections and listener close at once, onError and onClose follow, the rest goes on', () => {
    const out = run(`
      const s = await onWorker();
      const closed = new Promise((resolve) => s.once('close', () => resolve('closed')));
      s.write('die');
      const victim = await closed;
      // The dead worker's listener is closed: every new connection lands on the engine's thread.
      const tags = new Set();
      for (let i = 0; i < 20; i++) tags.add(await talk(await connect(), 'hello'));
      await closeAll();
      await engine.stop();
      console.log(JSON.stringify({ victim, tags: [...tags], seen, fds: fds() === before ? 'as before' : fds() + ' / ' + before }));
    `);
    expect(out).toMatchObject({ victim: 'closed', tags: ['main:'], fds: 'as before' });
    const seen = out.seen as string[];
    expect(seen[0]).toMatch(/^error ERR_NBIO_POLLER_FAILED a poller failed: poller thread 1 ended \(exit code 3\)/);
    // The worker's connections: the one that said "die", and the ones onWorker() tried before it.
    expect(seen.slice(1).length).toBeGreaterThanOrEqual(1);
    expect(new Set(seen.slice(1))).toEqual(new Set(['close ERR_NBIO_POLLER_FAILED']));
  });

  it('a worker stuck in a handler: stop() terminates it, reports it failed, and resolves with every descriptor closed', () => {
    const out = run(`
      const s = await onWorker();
      const hung = new Promise((resolve) => s.once('data', (d) => resolve(String(d))));
      s.write('hang');
      const answer = await hung; // the worker is in its endless loop now
      await closeAll();
      await engine.stop();
      console.log(JSON.stringify({ answer, seen, fds: fds() === before ? 'as before' : fds() + ' / ' + before }));
    `);
    expect(out).toMatchObject({ answer: 'hung', fds: 'as before' });
    const seen = out.seen as string[];
    expect(seen[0]).toMatch(/^error ERR_NBIO_POLLER_FAILED a poller failed: poller thread 1 did not stop within 2000 ms/);
    expect(new Set(seen.slice(1))).toEqual(new Set(['close ERR_NBIO_POLLER_FAILED']));
  });
});
