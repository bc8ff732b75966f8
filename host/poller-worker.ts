/**
 * One extra poller of an engine with `pollers` > 1, in a worker thread: an
 * engine of its own, with the options and handlers module it was given,
 * listening on the same addresses (SO_REUSEPORT). It reports `started` (or
 * `failed`) once, and on `stop` stops its engine and lets the thread end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from './engine.js';
import type { NbioError } from './errors.js';
import type { PollerData, PollerMessage, PollerRequest } from './pollers.js';

const port = parentPort!;
const { options, forwardPluginLog } = workerData as PollerData;
if (options.plugin !== undefined && forwardPluginLog) {
  options.plugin.log = (level, message) => port.postMessage({ type: 'plugin-log', level, message } satisfies PollerMessage);
}
const engine = new Engine(options);
engine.onPluginError((err) => {
  const { code, message, cause } = err as NbioError;
  port.postMessage({ type: 'plugin-error', code, message, cause: String((cause as Error)?.message ?? cause) } satisfies PollerMessage);
});
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
