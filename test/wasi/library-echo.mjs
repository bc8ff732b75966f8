// A JavaScript host driving the WASI library component
// (dist/wasm/reactor-wasi.component.wasm, world reactor-wasi) through jco's
// preview2-shim: listens with net.listen, hands the descriptor to
// engine.add-listener, prints `listening HOST:PORT` from net.local-address,
// then echoes every data event with engine.write, as the Node host does
// with kernel descriptors. Also dials the address given as its first
// argument, if any, and writes `hello` there. Test-only; runs until killed.
//   node test/wasi/library-echo.mjs [DIAL_ADDRESS]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importComponent } from './jco-transpile.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = mkdtempSync(join(tmpdir(), 'nbio-wasi-library-'));
process.on('exit', () => rmSync(out, { recursive: true, force: true }));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

const { engine, net } = await importComponent(join(root, 'dist', 'wasm', 'reactor-wasi.component.wasm'), out, 'reactor');

const Kind = { opened: 'opened', data: 'data', closed: 'closed', ended: 'ended' };
const config = { readBufferSize: 65536, maxWriteBufferSize: 6 << 20, maxConnReadTimesPerEventLoop: 3, noDelay: false, edgeTriggered: false };
if (engine.init(config) < 0) {
  throw new Error('init failed');
}
const lfd = net.listen('127.0.0.1:0', 16);
if (lfd < 0 || engine.addListener(lfd) !== 0) throw new Error(`listen failed: ${lfd}`);
const local = net.localAddress(lfd);
console.log(`listening ${local.val}`);
if (process.argv[2]) {
  const conn = engine.addConn(net.dial(process.argv[2]), 'dialing');
  if (conn < 0) throw new Error(`dial failed: ${conn}`);
}
// The shim's poll blocks this thread; this process does nothing else.
for (;;) {
  for (const ev of engine.runOnce(100)) {
    if (ev.kind === Kind.data) engine.write(ev.conn, ev.data);
    else if (ev.kind === Kind.opened && ev.detail === 0) engine.write(ev.conn, new TextEncoder().encode('hello'));
    else if (ev.kind === Kind.ended) engine.end(ev.conn); // the peer ended: this side ends once its echo is sent
    else if (ev.kind === Kind.closed) console.log(`closed ${ev.status}`);
  }
}
