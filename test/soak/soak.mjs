#!/usr/bin/env node
// The soak: an engine (test/soak/engine.mjs, in a child process) under
// loopback load for minutes. Connections open and close all the time,
// `concurrency` at once, half of them dialed by the engine itself (to a
// listener here), the other half accepted by it. Over each, this side sends
// messages of mixed sizes (up to 1 MiB) and checks that every echoed byte
// comes back once and in order; some peers read slowly (the engine queues),
// some reset, some drop the connection early. After a warm-up, with
// everything closed, the engine's descriptors, RSS and reactor memory are
// taken as the baseline; at the end, everything closed again, they must be
// back within the tolerances below. Prints a table, and a last line "SOAK
// <json>"; exits non-zero on any wrong byte, unexpected error or figure out
// of tolerance.
//
//   npm run soak -- [--minutes N | --seconds N] [--concurrency C] [--seed S]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string', default: '150' },
    seed: { type: 'string', default: '1' },
  },
});
const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes ?? 5) * 60;
const concurrency = Number(values.concurrency);
if (!(seconds >= 5) || !(concurrency >= 2)) {
  console.error('soak: --seconds must be >= 5 (or --minutes > 0) and --concurrency >= 2');
  process.exit(2);
}
const MiB = 1 << 20;
/** How far the end may be from the baseline. */
const TOLERANCE = { fds: 0, rss: 64 * MiB, reactorMemoryInUse: 1 * MiB };

// ---- a seeded PRNG for every decision (content is random bytes) ----
let state = Number(values.seed) >>> 0 || 1;
function rand(n) {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
}
/** Mostly small messages, some tens of KiB, a few up to 1 MiB. */
function messageSize() {
  const r = rand(100);
  if (r < 60) return 1 + rand(1024);
  if (r < 90) return 1024 + rand(64 * 1024);
  return 64 * 1024 + rand(MiB - 64 * 1024 + 1);
}

// ---- the engine under soak ----
const engine = spawn(process.execPath, ['--expose-gc', join(dirname(fileURLToPath(import.meta.url)), 'engine.mjs')], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const lines = createInterface({ input: engine.stdout });
const waiting = [];
lines.on('line', (line) => {
  const i = waiting.findIndex((w) => line.startsWith(w.prefix));
  if (i >= 0) waiting.splice(i, 1)[0].resolve(line.slice(line.indexOf(' ') + 1));
});
/** The rest of the engine's next line that starts with `prefix`. */
function next(prefix) {
  return new Promise((resolve) => waiting.push({ prefix, resolve }));
}
const ask = async (cmd, prefix) => {
  const reply = next(prefix);
  engine.stdin.write(`${cmd}\n`);
  return JSON.parse(await reply);
};
const enginePort = Number(await next('READY '));

// ---- peers ----
const totals = { sessions: 0, dialed: 0, accepted: 0, bytesVerified: 0, slow: 0, resets: 0, drops: 0, failures: [] };
/** Peers started and not finished (a dial the engine has not made yet counts). */
let active = 0;
let accepting = true;
const idle = [];

/** The listener the engine dials into. */
const listener = net.createServer((socket) => session(socket, 'dialed'));
await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));

function fail(what) {
  if (totals.failures.length < 20) totals.failures.push(what);
}

/**
 * Drives one connection (this side is the peer): sends messages and checks
 * the echo byte for byte. Its kind decides how it ends.
 */
function session(socket, origin) {
  totals.sessions++;
  totals[origin]++;
  const kind = ['normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'slow', 'reset', 'drop'][rand(10)];
  // A slow reader sends more than the socket buffers hold (up to 16 MiB) before it reads.
  const messages = kind === 'slow' ? 4 + rand(13) : 1 + rand(10);
  const expected = [];
  let expectedBytes = 0;
  let verified = 0;
  let waiter;
  socket.setNoDelay(true);
  socket.on('data', (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      const head = expected[0];
      if (head === undefined) return fail(`${origin} ${kind}: ${chunk.length - at} bytes more than were sent`);
      const n = Math.min(head.length, chunk.length - at);
      if (!chunk.subarray(at, at + n).equals(head.subarray(0, n))) return fail(`${origin} ${kind}: wrong bytes after ${verified}`);
      at += n;
      verified += n;
      totals.bytesVerified += n;
      if (n === head.length) expected.shift();
      else expected[0] = head.subarray(n);
    }
    if (waiter && verified >= waiter.until) waiter.resolve();
  });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('error', (err) => {
    if (kind !== 'reset' && kind !== 'drop') fail(`${origin} ${kind}: ${err.code ?? err.message}`);
  });
  const send = () => {
    const data = randomBytes(kind === 'slow' ? 256 * 1024 + rand(768 * 1024 + 1) : messageSize());
    expected.push(data);
    expectedBytes += data.length;
    socket.write(data);
  };
  const echoed = () =>
    verified >= expectedBytes
      ? Promise.resolve()
      : new Promise((resolve) => {
          waiter = { until: expectedBytes, resolve };
        });
  const run = async () => {
    if (kind === 'slow') {
      // Everything at once while not reading: the engine queues what the socket buffers do not hold.
      totals.slow++;
      socket.pause();
      for (let i = 0; i < messages; i++) send();
      await new Promise((resolve) => setTimeout(resolve, 50 + rand(450)));
      socket.resume();
      await Promise.race([echoed(), closed]);
    } else {
      const upTo = kind === 'normal' ? messages : 1 + rand(messages);
      for (let i = 0; i < upTo; i++) {
        send();
        await Promise.race([echoed(), closed]);
      }
    }
    if (kind === 'reset') {
      totals.resets++;
      send(); // in flight when the reset comes
      socket.resetAndDestroy();
    } else if (kind === 'drop') {
      totals.drops++;
      send();
      socket.destroy();
    } else {
      if (verified !== expectedBytes) fail(`${origin} ${kind}: closed after ${verified} of ${expectedBytes} bytes`);
      socket.end();
    }
    await closed;
  };
  run()
    .catch((err) => fail(`${origin} ${kind}: ${err.message}`))
    .finally(finished);
}

function finished() {
  active--;
  if (accepting) startPeer();
  if (active === 0) for (const resolve of idle.splice(0)) resolve();
}

/** Starts one more peer: every other one is dialed by the engine (its session starts on arrival). */
let started = 0;
function startPeer() {
  active++;
  if (started++ % 2 === 0) {
    const socket = net.connect(enginePort, '127.0.0.1', () => session(socket, 'accepted'));
    socket.once('error', (err) => {
      if (!socket.connecting) return;
      fail(`connect: ${err.code}`);
      finished();
    });
  } else {
    engine.stdin.write(`dial ${listener.address().port}\n`);
  }
}

/** Runs peers for `ms`, then lets every one finish and every engine connection close. */
async function phase(ms) {
  accepting = true;
  for (let i = 0; i < concurrency; i++) startPeer();
  await new Promise((resolve) => setTimeout(resolve, ms));
  accepting = false;
  if (active > 0) {
    const bound = setTimeout(() => {
      fail(`${active} peers never finished`);
      for (const resolve of idle.splice(0)) resolve();
    }, 60_000);
    await new Promise((resolve) => idle.push(resolve));
    clearTimeout(bound);
  }
  // The engine closes its side when it sees ours go: wait until it has none left.
  for (let i = 0; i < 500; i++) {
    const s = await ask('stats', 'STATS ');
    if (s.conns === 0) return s;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  fail('the engine kept connections open after every peer was gone');
  return ask('stats', 'STATS ');
}

const warmup = Math.min(5, seconds / 4) * 1000;
const startedAt = Date.now();
const baseline = await phase(warmup);
const end = await phase(seconds * 1000 - warmup);
const elapsed = (Date.now() - startedAt) / 1000;
const stopped = await ask('stop', 'STOPPED ');
listener.close();

// ---- report ----
const rows = [
  ['descriptors', baseline.fds, end.fds, TOLERANCE.fds, 1],
  ['RSS (MiB)', baseline.rss, end.rss, TOLERANCE.rss, MiB],
  ['reactor memory in use (KiB)', baseline.reactorMemoryInUse, end.reactorMemoryInUse, TOLERANCE.reactorMemoryInUse, 1024],
];
const fmt = (n, unit) => (unit === 1 ? String(n) : (n / unit).toFixed(1));
const within = (b, e, tol) => e - b <= tol;
const out = [
  `soak: ${elapsed.toFixed(1)} s, seed ${values.seed}, ${concurrency} peers at a time`,
  '',
  '| measure | after warm-up | at the end | tolerance | ok |',
  '|---|---|---|---|---|',
  ...rows.map(([name, b, e, tol, unit]) => `| ${name} | ${fmt(b, unit)} | ${fmt(e, unit)} | +${fmt(tol, unit)} | ${within(b, e, tol) ? 'yes' : 'NO'} |`),
  `| reactor memory, high-water (MiB) | ${fmt(baseline.reactorMemory, MiB)} | ${fmt(end.reactorMemory, MiB)} | (never shrinks; pages given back) | |`,
  '',
  `connections: ${totals.sessions} (${totals.accepted} accepted, ${totals.dialed} dialed by the engine), ` +
    `${totals.slow} slow readers, ${totals.resets} resets, ${totals.drops} dropped early; ` +
    `${(totals.bytesVerified / MiB).toFixed(1)} MiB echoed and verified`,
  `engine: ${end.opened} opened, ${end.closed} closed, close causes ${JSON.stringify(end.closeCauses)}, ` +
    `dial failures ${end.dialFailures}, errors ${end.errors.length}`,
];
console.log(out.join('\n'));
const problems = [
  ...totals.failures,
  ...rows.filter(([, b, e, tol]) => !within(b, e, tol)).map(([name]) => `${name} did not come back`),
  ...(end.opened !== end.closed ? [`engine opened ${end.opened} but closed ${end.closed}`] : []),
  ...(end.dialFailures > 0 ? [`${end.dialFailures} dials failed`] : []),
  ...end.errors,
  ...(stopped.conns !== 0 ? ['connections left after stop'] : []),
];
for (const p of problems) console.log(`soak: PROBLEM ${p}`);
console.log(`SOAK ${JSON.stringify({ ok: problems.length === 0, seconds: elapsed, baseline, end, totals, problems })}`);
process.exit(problems.length === 0 ? 0 : 1);
