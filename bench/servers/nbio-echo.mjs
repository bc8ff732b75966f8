// nbio-wasm echo server (default engine options).
//   node bench/servers/nbio-echo.mjs [--pollers=N] [--lb=RULE] [--et] [--plugin] [port=0] [host=127.0.0.1]
// Needs `npm run build`; serves as engine-server.mjs says.
// With --pollers=N > 1 the handler comes from echo-handlers.mjs, loaded in every poller,
// and --lb=RULE sets loadBalancing (default: the engine's, round-robin).
// With --et the engine runs edge-triggered (epollMode 'et').
// With --plugin the echo is the WebAssembly plugin dist/plugins/echo.wasm (default limits).
import { loadEngine, serve } from './engine-server.mjs';

const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const [portArg, hostArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const port = Number(portArg ?? 0);
const host = hostArg ?? '127.0.0.1';
const plugin = flags.includes('--plugin');
const pollers = Number(/^--pollers=(\d+)$/.exec(flags.find((f) => f.startsWith('--pollers=')) ?? '')?.[1] ?? 1);
const loadBalancing = /^--lb=([a-z-]+)$/.exec(flags.find((f) => f.startsWith('--lb=')) ?? '')?.[1];
const epollMode = flags.includes('--et') ? 'et' : 'lt';

const Engine = await loadEngine('nbio-echo');

const addrs = [`${host}:${port}`];
// Only what a flag asks for is passed: the same script also runs a checkout from before an option existed (--compare).
const mode = epollMode === 'et' ? { epollMode } : {};
const engine = plugin
  ? new Engine({ network: 'tcp', addrs, plugin: { module: new URL('../../dist/plugins/echo.wasm', import.meta.url) } })
  : pollers > 1
    ? new Engine({
      network: 'tcp', addrs, pollers, handlers: new URL('./echo-handlers.mjs', import.meta.url), ...mode,
      ...(loadBalancing === undefined ? {} : { loadBalancing }),
    })
    : new Engine({ network: 'tcp', addrs, onData: (c, data) => c.write(data), ...mode });
await serve(engine);
