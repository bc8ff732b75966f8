/**
 * The echo server: listens on tcp 127.0.0.1:8888 (or the address given as
 * the first argument), and writes back a copy of every chunk it receives.
 * A peer that stops reading may have at most 6 MiB queued before its
 * connection is closed. Stops cleanly on SIGINT/SIGTERM.
 *
 *   npm start                      # 127.0.0.1:8888
 *   npm start -- 127.0.0.1:0       # any free port
 */
import { Engine } from '../host/index.js';

const address = process.argv[2] ?? '127.0.0.1:8888';

const engine = new Engine({
  network: 'tcp',
  addrs: [address],
  maxWriteBufferSize: 6 * 1024 * 1024,
});

engine.onOpen((conn) => console.log('open', conn.remoteAddr));
engine.onData((conn, data) => conn.write(Buffer.from(data)));
engine.onClose((conn, err) => console.log('close', conn.remoteAddr, err ? err.message : ''));

try {
  await engine.start();
} catch (err) {
  console.error(`echo server: cannot listen on ${address}: ${(err as Error).message}`);
  process.exit(1);
}
console.log(`echo server listening on ${engine.addrs.join(', ')}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void engine.stop().then(() => console.log('stopped'));
  });
}
