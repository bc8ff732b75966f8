import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { NbioError, type NbioErrorCode } from './errors.js';
import type { EngineOptions } from './options.js';
import { packageRoot } from './package-root.js';
import type { LogLevel } from './plugin/instance.js';

/** The worker script that runs one poller (compiled from host/poller-worker.ts). */
const WORKER_SCRIPT = join(packageRoot, 'dist', 'host', 'poller-worker.js');

/** Messages a poller worker posts to the engine that started it. */
export type PollerMessage =
  | { type: 'started' }
  | { type: 'failed'; message: string; code?: string }
  | { type: 'plugin-error'; code: NbioErrorCode; message: string; cause: string }
  | { type: 'plugin-log'; level: LogLevel; message: string };

/** What a poller worker is started with. */
export interface PollerData {
  options: EngineOptions;
  /** Post the plugin's log lines (`plugin-log`): the engine that started it has a `log` handler. */
  forwardPluginLog: boolean;
}

/** Where the engine wants the plugin's reports from poller workers. */
export interface PollerEvents {
  pluginError(err: NbioError): void;
  pluginLog: ((level: LogLevel, message: string) => void) | undefined;
}

/** What the engine sends to a poller worker: the only request is to stop. */
export type PollerRequest = { type: 'stop' };

/**
 * The extra pollers of an engine with `pollers` > 1: worker threads, each
 * running an engine of its own on the same listen addresses (SO_REUSEPORT)
 * with the handlers module loaded in it.
 */
export class PollerGroup {
  readonly #workers: Worker[];

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  /**
   * Starts `count` pollers with `options` (plain data: bound addresses, a
   * handlers module, reusePort). Resolves once every one listens; if one
   * fails, stops those that started and rejects with its error.
   */
  static async start(count: number, options: EngineOptions, events: PollerEvents): Promise<PollerGroup> {
    const workerData: PollerData = { options, forwardPluginLog: events.pluginLog !== undefined };
    const workers = Array.from({ length: count }, () => {
      const worker = new Worker(WORKER_SCRIPT, { workerData });
      worker.on('message', (message: PollerMessage) => forward(message, events));
      return worker;
    });
    const group = new PollerGroup(workers);
    const started = await Promise.allSettled(workers.map(startedOrFailed));
    const failure = started.find((r) => r.status === 'rejected');
    if (failure !== undefined) {
      await group.stop();
      throw (failure as PromiseRejectedResult).reason;
    }
    return group;
  }

  /** Stops every poller (each closes its connections, calling onClose, then onStop) and waits for the threads to end. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#workers.map((worker) => {
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage({ type: 'stop' } satisfies PollerRequest);
        return exited;
      }),
    );
  }
}

/** Passes a worker's plugin reports on to the engine. */
function forward(message: PollerMessage, events: PollerEvents): void {
  if (message.type === 'plugin-log') {
    events.pluginLog?.(message.level, message.message);
  } else if (message.type === 'plugin-error') {
    const err = new NbioError(message.code, message.message);
    err.cause = new Error(message.cause);
    events.pluginError(err);
  }
}

function startedOrFailed(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: PollerMessage) => {
      if (message.type !== 'started' && message.type !== 'failed') return; // a plugin's report, forwarded elsewhere
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (message.type === 'started') return resolve();
      const err = new Error(`poller failed to start: ${message.message}`) as Error & { code?: string };
      if (message.code !== undefined) err.code = message.code;
      reject(err);
    };
    const onError = (err: Error) => {
      worker.off('message', onMessage);
      reject(err);
    };
    const onExit = (code: number) => {
      worker.off('message', onMessage);
      reject(new Error(`poller exited (code ${code}) before it started`));
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
}
