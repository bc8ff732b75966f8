// The file-sending benchmark's server (bench/lib/file-send.mjs): an Engine
// that sends one file to every connection, then ends it, in one of three
// ways:
//   sendfile  conn.sendFile(file): the kernel sends it from the page cache
//   pipe      fs.createReadStream(file).pipe(conn.toStream())
//   write     fs.readSync into a 256 KiB buffer and conn.write(), keeping
//             at most 1 MiB queued (more on each drain)
// Usage: node nbio-file.mjs MODE FILE PORT
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { loadEngine, serve } from './engine-server.mjs';

const [mode, file, port] = process.argv.slice(2);
const MODES = ['sendfile', 'pipe', 'write'];
if (!MODES.includes(mode) || !file) {
  console.error(`usage: nbio-file.mjs ${MODES.join('|')} FILE PORT`);
  process.exit(2);
}
const Engine = await loadEngine(`nbio-file ${mode}`);
const engine = new Engine({ addrs: [`127.0.0.1:${port ?? 0}`] });

const QUEUED = 1 << 20;
const buf = Buffer.alloc(256 << 10);
/** Per connection of the write mode: the file's descriptor and the next position. */
const reading = new Map();

function pump(conn) {
  const r = reading.get(conn);
  while (conn.bufferedAmount < QUEUED) {
    const n = readSync(r.fd, buf, 0, buf.length, r.pos);
    if (n === 0) {
      closeSync(r.fd);
      reading.delete(conn);
      conn.end();
      return;
    }
    r.pos += n;
    conn.write(buf.subarray(0, n));
  }
}

engine.onOpen((conn) => {
  if (mode === 'sendfile') {
    conn.sendFile(file);
    conn.end();
  } else if (mode === 'pipe') {
    createReadStream(file).pipe(conn.toStream());
  } else {
    const fd = openSync(file, 'r');
    reading.set(conn, { fd, pos: 0 });
    pump(conn);
  }
});
engine.onDrain((conn) => {
  if (reading.has(conn)) pump(conn);
});
engine.onClose((conn) => {
  const r = reading.get(conn);
  if (r) closeSync(r.fd);
  reading.delete(conn);
});
await serve(engine);
