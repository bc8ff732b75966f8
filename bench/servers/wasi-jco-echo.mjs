// The WASI echo server component (dist/wasm/echo-server.wasm) under jco's
// preview2-shim, in this process (so the harness's /proc CPU figures see
// all of it; `jco run` would run it in a child process).
//   node bench/servers/wasi-jco-echo.mjs [port=0] [host=127.0.0.1]
// Transpiles the component into bench/bin/jco-echo-server/ (gitignored),
// then calls its wasi:cli/run, which prints `listening HOST:PORT` and
// serves until the process is killed. Needs `npm run build`.
import { transpile } from '@bytecodealliance/jco';
import { _setArgs } from '@bytecodealliance/preview2-shim/cli';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'bench', 'bin', 'jco-echo-server');
const port = process.argv[2] ?? '0';
const host = process.argv[3] ?? '127.0.0.1';

const { files } = await transpile(readFileSync(join(root, 'dist', 'wasm', 'echo-server.wasm')),
  { name: 'echo-server', quiet: true, noTypescript: true });
for (const [name, bytes] of Object.entries(files)) {
  mkdirSync(dirname(join(out, name)), { recursive: true });
  writeFileSync(join(out, name), bytes);
}
writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
// The component's argv (the shim's default is this process's argv).
_setArgs(['echo-server', `${host}:${port}`]);
const { run } = await import(pathToFileURL(join(out, 'echo-server.js')).href);
run.run();
