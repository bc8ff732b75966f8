/**
 * One extra poller of an engine with `pollers` > 1, in a worker thread: an
 * engine of its own, with the options and handlers module it was given,
 * listening on the same addresses (SO_REUSEPORT). It reports `started` (or
 * `failed`) once, and on `stop` stops its engine and lets the thread end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from './engine.js';
import type { EngineOptions } from './options.js';
import type { PollerMessage, PollerRequest } from './pollers.js';

const port = parentPort!;
const engine = new Engine(workerData as EngineOptions);
try {
  await engine.start();
  port.postMessage({ type: 'started' } satisfies PollerMessage);
  port.on('message', (request: PollerRequest) => {
    if (request.type === 'stop') void engine.stop().then(() => port.close());
  });
} catch (err) {
  const { message, code } = err as { message: string; code?: string };
  port.postMessage({ type: 'failed', message, code } satisfies PollerMessage);
  port.close();
}
