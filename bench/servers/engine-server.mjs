// What the benchmark servers built on an nbio-wasm Engine share: loading
// the engine from dist/ (needs `npm run build`), and serving the harness's
// way: prints "LISTENING <port>" once started; on SIGTERM stops the engine
// and exits 0; collects garbage on SIGUSR2 (run with --expose-gc); reports
// heap activity on SIGWINCH (heap-report.mjs).
import { reportHeapOnSignal } from './heap-report.mjs';

/** The Engine class of dist/host/index.js; exits with a one-line reason if it was not built. */
export async function loadEngine(server) {
  try {
    return (await import('../../dist/host/index.js')).Engine;
  } catch (err) {
    console.error(`${server}: cannot load dist/host/index.js (run \`npm run build\` first): ${err.message}`);
    process.exit(1);
  }
}

/** Starts `engine` and serves until SIGTERM, as the harness expects. */
export async function serve(engine) {
  // The harness asks for a full collection before it reads RSS.
  process.on('SIGUSR2', () => globalThis.gc?.());
  reportHeapOnSignal();
  process.on('SIGTERM', async () => {
    await engine.stop();
    process.exit(0);
  });
  await engine.start();
  const bound = engine.addrs[0];
  console.log(`LISTENING ${bound.slice(bound.lastIndexOf(':') + 1)}`);
}
