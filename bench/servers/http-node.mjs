// Plain http.createServer, the baseline of the HTTP benchmark.
//   node bench/servers/http-node.mjs [port=0] [host=127.0.0.1]
// Prints "LISTENING <port>" once bound; exits 0 on SIGTERM; collects garbage on SIGUSR2;
// reports heap activity on SIGWINCH (heap-report.mjs).
import http from 'node:http';
import { reportHeapOnSignal } from './heap-report.mjs';
import { respond } from './http-handler.mjs';

const port = Number(process.argv[2] ?? 0);
const host = process.argv[3] ?? '127.0.0.1';

const server = http.createServer(respond);
server.listen(port, host, () => {
  console.log(`LISTENING ${server.address().port}`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGUSR2', () => globalThis.gc?.());
reportHeapOnSignal();
