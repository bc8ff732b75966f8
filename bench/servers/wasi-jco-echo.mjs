// The WASI echo server component (dist/wasm/echo-server.wasm) under jco's
// preview2-shim, in this process (so the harness's /proc CPU figures see
// all of it; `jco run` would run it in a child process).
//   node bench/servers/wasi-jco-echo.mjs [port=0] [host=127.0.0.1]
// Transpiles the component into bench/bin/jco-echo-server/ (gitignored),
// then calls its wasi:cli/run, which prints `listening HOST:PORT` and
// serves until the process is killed. Needs `npm run build`.
import { _setArgs } from '@bytecodealliance/preview2-shim/cli';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importComponent } from '../../test/wasi/jco-transpile.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const port = process.argv[2] ?? '0';
const host = process.argv[3] ?? '127.0.0.1';

// The component's argv (the shim's default is this process's argv).
_setArgs(['echo-server', `${host}:${port}`]);
const { run } = await importComponent(join(root, 'dist', 'wasm', 'echo-server.wasm'),
  join(root, 'bench', 'bin', 'jco-echo-server'), 'echo-server');
run.run();
