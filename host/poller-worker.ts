/**
 * One extra poller of an engine with `pollers` > 1, in a worker thread: an
 * engine of its own, with the options and handlers module it was given,
 * listening on the same addresses (SO_REUSEPORT). It reports `started`
 * (with its reactor's descriptor table) or `failed` once, and on `stop`
 * stops its engine and lets the thread end. Its plugin's failures (and log
 * lines, when the engine has a `log` handler) are posted too.
 *
 * An exception nothing here catches (a handler's, which the engine
 * rethrows after its batch, or one from a timer of the application) does
 * not end the thread: it is posted to the engine's thread, which raises it
 * there (host/pollers.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine, fdTableOf } from './engine.js';
import { describeError, type PollerData, type PollerMessage, type PollerRequest } from './pollers.js';

const port = parentPort!;
process.on('uncaughtException', (error) => {
  port.postMessage({ type: 'uncaught', error: describeError(error) } satisfies PollerMessage);
});
const { options, forwardPluginLog } = workerData as PollerData;
if (options.plugin !== undefined && forwardPluginLog) {
  options.plugin.log = (level, message) => port.postMessage({ type: 'plugin-log', level, message } satisfies PollerMessage);
}
const engine = new Engine(options);
engine.onPluginError(({ code, message, cause }) => {
  port.postMessage({ type: 'plugin-error', code, message, cause: String((cause as Error)?.message ?? cause) } satisfies PollerMessage);
});
try {
  await engine.start();
  port.postMessage({ type: 'started', fds: fdTableOf(engine)! } satisfies PollerMessage);
  port.on('message', (request: PollerRequest) => {
    if (request.type === 'stop') void engine.stop().then(() => port.close());
  });
} catch (err) {
  const { message, code } = err as { message: string; code?: string };
  port.postMessage({ type: 'failed', message, code } satisfies PollerMessage);
  port.close();
}
