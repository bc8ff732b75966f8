// node:net echo server, the baseline for the benchmarks.
//   node bench/servers/net-echo.mjs [port=0] [host=127.0.0.1]
// Prints "LISTENING <port>" once bound; exits 0 on SIGTERM; collects garbage on SIGUSR2;
// reports heap activity on SIGWINCH (heap-report.mjs).
import net from 'node:net';
import { reportHeapOnSignal } from './heap-report.mjs';

const port = Number(process.argv[2] ?? 0);
const host = process.argv[3] ?? '127.0.0.1';

const server = net.createServer({ noDelay: true }, (s) => {
  s.on('data', (d) => s.write(d));
  // A peer reset must not crash the server (an unhandled 'error' event throws).
  s.on('error', () => s.destroy());
});

server.listen(port, host, () => {
  console.log(`LISTENING ${server.address().port}`);
});

process.on('SIGTERM', () => process.exit(0));
// The harness asks for a full collection before it reads RSS (run with --expose-gc).
process.on('SIGUSR2', () => globalThis.gc?.());
reportHeapOnSignal();
