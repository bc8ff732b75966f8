// In-process measurements of the plugin host (no sockets), reported beside
// the echo benchmarks:
//   - per-event overhead: an on-data event through the echo plugin (bytes
//     copied into its memory, the call, its write copied back out) against
//     the JavaScript handler `(conn, data) => conn.write(data)`, on the same
//     fake connection; p50 over samples of many calls;
//   - metering overhead: the line plugin's byte loop (64 KiB per call) in
//     the metered module against the same core module without metering;
//   - instantiation: a new instance of a plugin, with its init.
// Needs `npm run build` (dist/host, dist/plugins).
import { existsSync, readFileSync } from 'node:fs';

const dist = new URL('../../dist/', import.meta.url);
const { Conn, ConnState } = await import(new URL('host/api/conn.js', dist));
const { PluginInstance } = await import(new URL('host/plugin/instance.js', dist));
const { preparePlugin } = await import(new URL('host/plugin/module.js', dist));
const { pluginCoreModule } = await import(new URL('host/plugin/component.js', dist));
const { importObject } = await import(new URL('host/plugin/abi.js', dist));
const { FUEL_GLOBAL, START_EXPORT } = await import(new URL('host/plugin/metering.js', dist));

const pluginPath = (name) => new URL(`plugins/${name}.wasm`, dist);
const now = () => performance.now();

function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/** A connection whose writes are copied into a buffer, as a socket write would copy them. */
function sinkConn() {
  const sink = Buffer.alloc(1 << 20);
  const owner = {
    write: (_c, data) => sink.set(data),
    writev() {}, close() {}, end() {}, pause() {}, resume() {},
    bufferedAmount: () => 0, setDeadline() {}, address: () => undefined,
  };
  return new Conn(owner, 1, ConnState.Open);
}

function instanceHost(owners) {
  return {
    fuelPerEvent: 50_000_000,
    timePerEvent: 5,
    writeQueueLimit: 1 << 20,
    log() {},
    owner: (conn) => owners.get(conn),
    pause: (conn) => conn.pause(),
    resume: (conn) => conn.resume(),
    ranLong() {},
    failed: (_i, err) => {
      throw err;
    },
  };
}

/** p50 over `samples` of the time per call of `fn`, called `calls` times per sample, in µs. */
function perCall(fn, samples, calls) {
  for (let i = 0; i < calls * 5; i++) fn(); // warm up (JIT)
  const times = [];
  for (let s = 0; s < samples; s++) {
    const t0 = now();
    for (let i = 0; i < calls; i++) fn();
    times.push(((now() - t0) * 1000) / calls);
  }
  return median(times);
}

async function perEventOverhead({ samples, calls }) {
  const plugin = await preparePlugin(readFileSync(pluginPath('echo')), 16 << 20);
  const owners = new Map();
  const instance = new PluginInstance(plugin, instanceHost(owners));
  instance.init(new Uint8Array(0));
  const conn = sinkConn();
  owners.set(conn, instance);
  instance.open(conn);
  const jsHandler = (c, data) => c.write(data);
  const rows = [];
  for (const size of [64, 1024]) {
    const data = Buffer.alloc(size, 7);
    const js = perCall(() => jsHandler(conn, data), samples, calls);
    const wasm = perCall(() => instance.data(conn, data), samples, calls);
    rows.push({ size, js_us: js, plugin_us: wasm, overhead_us: wasm - js });
  }
  return rows;
}

/** The line plugin's on-data over 64 KiB, with and without metering: time per call in µs. */
async function meteringOverhead({ samples, calls }) {
  const component = readFileSync(pluginPath('upper-lines'));
  const metered = await preparePlugin(component, 16 << 20);
  const plain = new WebAssembly.Module(pluginCoreModule(component));
  const stub = {
    write: (_self, _ptr, len) => len, end() {}, close() {}, pause() {}, resume() {},
    localAddress() {}, remoteAddress() {}, drop() {}, log() {},
  };
  const input = Buffer.alloc(64 * 1024, 'a'.charCodeAt(0));
  input[input.length - 1] = 10; // one line: the loop runs over every byte, then one write
  const run = (module, isMetered) => {
    const x = new WebAssembly.Instance(module, importObject(stub, () => 0)).exports;
    const fuel = x[FUEL_GLOBAL];
    if (isMetered) {
      fuel.value = 2 ** 31 - 1;
      x[START_EXPORT]();
    }
    const key = x['nbio:plugin/handler@0.1.0#on-open'](1);
    const onData = x['nbio:plugin/handler@0.1.0#on-data'];
    const realloc = x.cabi_realloc;
    return perCall(() => {
      if (isMetered) fuel.value = 2 ** 31 - 1;
      const ptr = realloc(0, 0, 1, input.length);
      new Uint8Array(x.memory.buffer, ptr, input.length).set(input);
      onData(key, ptr, input.length);
    }, samples, calls);
  };
  // Alternate, so that drift hits both alike.
  const plainTimes = [];
  const meteredTimes = [];
  for (let round = 0; round < 3; round++) {
    plainTimes.push(run(plain, false));
    meteredTimes.push(run(metered.module, true));
  }
  const p = median(plainTimes);
  const m = median(meteredTimes);
  return { bytes: input.length, plain_us: p, metered_us: m, overhead: m / p - 1 };
}

async function instantiation({ count }) {
  const rows = [];
  for (const name of ['echo', 'upper-lines', 'http-hello']) {
    if (!existsSync(pluginPath(name))) continue;
    const plugin = await preparePlugin(readFileSync(pluginPath(name)), 16 << 20);
    const times = [];
    for (let i = 0; i < count; i++) {
      const t0 = now();
      const instance = new PluginInstance(plugin, instanceHost(new Map()));
      instance.init(new Uint8Array(0));
      times.push((now() - t0) * 1000);
    }
    rows.push({ plugin: name, us: median(times.slice(Math.floor(count / 10))) });
  }
  return rows;
}

/** Runs every measurement; `quick` takes fewer samples. */
export async function measurePlugins({ quick }) {
  const samples = quick ? 21 : 101;
  return {
    per_event: await perEventOverhead({ samples, calls: 2000 }),
    metering: await meteringOverhead({ samples: quick ? 9 : 31, calls: 20 }),
    instantiation: await instantiation({ count: quick ? 50 : 300 }),
  };
}

const f = (x, d = 2) => x.toFixed(d);

/** The markdown section for `measurePlugins` results. */
export function pluginMarkdown(r) {
  const lines = ['## Plugin host, in process', ''];
  lines.push('Per-event overhead: one on-data event through the echo plugin against the JavaScript handler ' +
    '`(conn, data) => conn.write(data)`, both writing to the same in-memory connection (no sockets); p50 of ' +
    'the time per call over samples of 2,000 calls.', '');
  lines.push('| message | JavaScript handler µs | echo plugin µs | overhead µs |', '|---|---|---|---|');
  for (const row of r.per_event) lines.push(`| ${row.size} B | ${f(row.js_us, 3)} | ${f(row.plugin_us, 3)} | ${f(row.overhead_us, 3)} |`);
  lines.push('', `Metering: the line plugin's on-data over ${r.metering.bytes / 1024} KiB (a loop over every byte, then one write), ` +
    `metered ${f(r.metering.metered_us, 1)} µs against ${f(r.metering.plain_us, 1)} µs for the same core module without ` +
    `metering: **${f(r.metering.overhead * 100, 1)} %** (medians, alternating runs).`, '');
  lines.push('Instantiation (a new instance with its `init`, median):', '');
  lines.push('| plugin | µs |', '|---|---|');
  for (const row of r.instantiation) lines.push(`| ${row.plugin} | ${f(row.us, 1)} |`);
  lines.push('');
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await measurePlugins({ quick: process.argv.includes('--quick') });
  process.stdout.write(pluginMarkdown(results));
}
