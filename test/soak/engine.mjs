// The engine under soak (run by test/soak/soak.mjs in a process of its
// own, so that its descriptors and RSS are its own): an echo engine on
// 127.0.0.1 that also dials out on request. Prints "READY <port>", then
// answers commands on stdin, one per line:
//   dial <port>   dial 127.0.0.1:<port>; the connection echoes like the others
//   stats         print one line "STATS <json>" (after a full GC)
//   stop          stop the engine, print "STOPPED <json>", exit
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Engine } from '../../dist/host/index.js';

const engine = new Engine({ addrs: ['127.0.0.1:0'] });
let opened = 0;
let closed = 0;
let dialFailures = 0;
const errors = [];
const closeCauses = {};
engine.onOpen(() => opened++);
engine.onData((conn, data) => conn.write(data));
engine.onClose((_conn, err) => {
  closed++;
  const cause = err?.code ?? 'local';
  closeCauses[cause] = (closeCauses[cause] ?? 0) + 1;
});
engine.onError((err) => errors.push(err.message));

function stats() {
  globalThis.gc?.();
  return {
    fds: readdirSync('/proc/self/fd').length,
    rss: Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024,
    reactorMemory: engine.reactorMemory,
    reactorMemoryInUse: engine.reactorMemoryInUse,
    conns: engine.connCount,
    opened,
    closed,
    dialFailures,
    closeCauses,
    errors,
  };
}

await engine.start();
console.log(`READY ${engine.addrs[0].split(':')[1]}`);
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'dial') {
    engine.dial('tcp', `127.0.0.1:${arg}`, { timeout: 10_000 }).catch(() => dialFailures++);
  } else if (cmd === 'stats') {
    console.log(`STATS ${JSON.stringify(stats())}`);
  } else if (cmd === 'stop') {
    await engine.stop();
    console.log(`STOPPED ${JSON.stringify(stats())}`);
    process.exit(0);
  }
}
