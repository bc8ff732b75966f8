import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EngineOptions } from './options.js';
import { packageRoot } from './package-root.js';

/** The worker script that runs one poller (compiled from host/poller-worker.ts). */
const WORKER_SCRIPT = join(packageRoot, 'dist', 'host', 'poller-worker.js');

/** Messages a poller worker posts to the engine that started it. */
export type PollerMessage = { type: 'started' } | { type: 'failed'; message: string; code?: string };

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
  static async start(count: number, options: EngineOptions): Promise<PollerGroup> {
    const workers = Array.from({ length: count }, () => new Worker(WORKER_SCRIPT, { workerData: options }));
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

function startedOrFailed(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: PollerMessage) => {
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
    worker.once('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
}
