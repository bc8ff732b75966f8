/**
 * The echo client: dials the echo server (127.0.0.1:8888, or the address
 * given as the first argument), writes 4 MiB of random bytes in one call and
 * checks that the identical 4 MiB comes back. Exits 0 on success, 1 on a
 * mismatch, a closed connection, or after 60 seconds without the full echo.
 *
 *   npm start &  npm run example:client
 */
import { randomBytes } from 'node:crypto';
import { Engine } from '../host/index.js';

const address = process.argv[2] ?? '127.0.0.1:8888';
const size = 4 * 1024 * 1024;
const sent = randomBytes(size);
const received = Buffer.alloc(size);
let got = 0;
let finished = false;

function finish(code: number, message: string): void {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  console.log(message);
  void engine.stop().then(() => process.exit(code));
}

const engine = new Engine();
engine.onData((_conn, data) => {
  if (got + data.length > size) return finish(1, `FAIL: more than ${size} bytes came back`);
  received.set(data, got);
  got += data.length;
  if (got < size) return;
  if (received.equals(sent)) finish(0, `OK: ${size} bytes echoed intact`);
  else finish(1, 'FAIL: the echo differs from what was sent');
});
engine.onClose((_conn, err) => {
  if (got < size) finish(1, `FAIL: connection closed after ${got} bytes: ${err?.message ?? 'closed'}`);
});
const deadline = setTimeout(() => finish(1, `FAIL: only ${got} of ${size} bytes after 60 s`), 60_000);

await engine.start();
const conn = await engine.dial('tcp', address, { timeout: 10_000 }).catch((err: Error) => {
  finish(1, `FAIL: dial ${address}: ${err.message}`);
  return undefined;
});
conn?.write(sent);
