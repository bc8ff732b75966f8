/**
 * The echo server: listens on tcp 127.0.0.1:8888 (or the address given as
 * the first argument), and writes back every chunk it receives.
 * A peer that stops reading may have at most 6 MiB queued before its
 * connection is closed. Stops cleanly on SIGINT/SIGTERM.
 *
 *   npm start                      # 127.0.0.1:8888
 *   npm start -- 127.0.0.1:0       # any free port
 */
import { Engine } from '../host/index.js';

const address = process.argv[2] ?? '127.0.0.1:8888';

function fail(err: unknown): never {
  console.error(`echo server: cannot listen on ${address}: ${(err as Error).message}`);
  process.exit(1);
}

let engine: Engine;
try {
  engine = new Engine({
    network: 'tcp',
    addrs: [address],
    maxWriteBufferSize: 6 * 1024 * 1024,
  });
} catch (err) {
  fail(err); // a malformed address
}

engine.onOpen((conn) => console.log('open', conn.remoteAddr));
// Writing `data` itself copies nothing: the engine sends straight from its
// read buffer and copies only what the kernel does not take at once. (nbio's
// Go example copies the bytes first; that is a Go idiom, not needed here.)
engine.onData((conn, data) => conn.write(data));
engine.onClose((conn, err) => console.log('close', conn.remoteAddr, err ? err.message : ''));

try {
  await engine.start();
} catch (err) {
  fail(err); // EADDRINUSE, ENOTFOUND...
}
console.log(`echo server listening on ${engine.addrs.join(', ')}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void engine.stop().then(() => console.log('stopped'));
  });
}
