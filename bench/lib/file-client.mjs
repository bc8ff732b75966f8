// The file-sending benchmark's client: opens CONNS connections to PORT at
// once, reads each to its end, and prints one JSON line { bytes, ms };
// exits 1 when a connection fails or does not bring exactly BYTES bytes.
// Usage: node file-client.mjs PORT CONNS BYTES
import net from 'node:net';

const [port, conns, bytes] = process.argv.slice(2).map(Number);
const started = process.hrtime.bigint();
const each = await Promise.all(Array.from({ length: conns }, () => new Promise((resolve, reject) => {
  let got = 0;
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('data', (chunk) => (got += chunk.length));
  socket.on('end', () => resolve(got));
  socket.on('error', reject);
}))).catch((err) => {
  console.error(`file-client: ${err.message}`);
  process.exit(1);
});
const ms = Number(process.hrtime.bigint() - started) / 1e6;
const wrong = each.filter((n) => n !== bytes);
if (wrong.length) {
  console.error(`file-client: ${wrong.length} of ${conns} connections brought ${wrong.join(', ')} bytes, not ${bytes}`);
  process.exit(1);
}
console.log(JSON.stringify({ bytes: each.reduce((a, b) => a + b, 0), ms }));
