import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Conn } from './conn.js';
import { NbioError, type NbioErrorCode } from './errors.js';
import type { EngineOptions } from './options.js';
import { packageRoot } from './package-root.js';
import type { LogLevel } from './plugin/instance.js';
import { RemoteConns, type RemoteAdoption, type RemoteReport, type RemoteRequest } from './remote-conns.js';

/** The worker script that runs one poller (compiled from host/poller-worker.ts). */
const WORKER_SCRIPT = join(packageRoot, 'dist', 'host', 'poller-worker.js');

/** Messages a poller worker posts to the engine that started it. */
export type PollerMessage =
  | { type: 'started' }
  | { type: 'failed'; message: string; code?: string }
  | { type: 'plugin-error'; code: NbioErrorCode; message: string; cause: string }
  | { type: 'plugin-log'; level: LogLevel; message: string }
  | RemoteReport;

/**
 * Per worker, two counters the worker keeps in shared memory for the
 * engine's thread (Int32Array, slots 2i and 2i + 1 of worker i).
 */
export const COUNTERS = {
  /** Its live connections, after its last dispatch. */
  LIVE: 0,
  /** Descriptors it took over so far (a running total). */
  ADOPTED: 1,
} as const;

/** What a poller worker is started with. */
export interface PollerData {
  options: EngineOptions;
  /** Post the plugin's log lines (`plugin-log`): the engine that started it has a `log` handler. */
  forwardPluginLog: boolean;
  /** The counters of every worker (see {@link COUNTERS}). */
  counters: SharedArrayBuffer;
  /** This worker's place among them. */
  index: number;
}

/** Where the engine wants the plugin's reports from poller workers. */
export interface PollerEvents {
  pluginError(err: NbioError): void;
  pluginLog: ((level: LogLevel, message: string) => void) | undefined;
}

/** What the engine sends to a poller worker. */
export type PollerRequest =
  /** Stop; `graceful`: end every connection first and wait up to `timeout` ms (0: no limit) for them to close. */
  | { type: 'stop'; graceful: boolean; timeout: number }
  /** During a graceful stop: close what is left now. */
  | { type: 'stop-now' }
  /** Serve `fd`, a connection the engine's acceptor accepted. */
  | { type: 'accepted'; fd: number }
  | RemoteRequest;

interface Member {
  worker: Worker;
  /** Connections placed here by `dial` and `addConn` on the engine's thread. */
  remotes: RemoteConns;
  /** Descriptors handed to it so far (compare with its ADOPTED counter). */
  handed: number;
}

/**
 * The extra pollers of an engine with `pollers` > 1: worker threads, each
 * running an engine of its own with the handlers module loaded in it,
 * either listening on the same addresses (SO_REUSEPORT) or serving the
 * connections the engine's thread accepts and hands over.
 */
export class PollerGroup {
  readonly #members: Member[];
  readonly #counters: Int32Array;

  private constructor(members: Member[], counters: Int32Array) {
    this.#members = members;
    this.#counters = counters;
  }

  /**
   * Starts `count` pollers with `options` (plain data: addresses, a
   * handlers module, reusePort). Resolves once every one has started; if
   * one fails, stops those that started and rejects with its error.
   */
  static async start(count: number, options: EngineOptions, events: PollerEvents): Promise<PollerGroup> {
    const counters = new SharedArrayBuffer(count * 2 * Int32Array.BYTES_PER_ELEMENT);
    const members = Array.from({ length: count }, (_, index): Member => {
      const workerData: PollerData = { options, forwardPluginLog: events.pluginLog !== undefined, counters, index };
      const worker = new Worker(WORKER_SCRIPT, { workerData });
      const remotes = new RemoteConns((request) => worker.postMessage(request));
      worker.on('message', (message: PollerMessage) => forward(message, events, remotes));
      worker.once('exit', () => remotes.closeAll(new NbioError('ERR_NBIO_NOT_RUNNING', 'the poller stopped')));
      return { worker, remotes, handed: 0 };
    });
    const group = new PollerGroup(members, new Int32Array(counters));
    const started = await Promise.allSettled(members.map((m) => startedOrFailed(m.worker)));
    const failure = started.find((r) => r.status === 'rejected');
    if (failure !== undefined) {
      await group.stop(false, 0);
      throw (failure as PromiseRejectedResult).reason;
    }
    return group;
  }

  /** Number of worker pollers. */
  get size(): number {
    return this.#members.length;
  }

  /** Connections worker `i` serves, with those handed to it and not taken over yet. */
  load(i: number): number {
    const c = this.#counters;
    return Atomics.load(c, 2 * i + COUNTERS.LIVE) + this.#members[i].handed - Atomics.load(c, 2 * i + COUNTERS.ADOPTED);
  }

  /** Live connections over all workers. */
  get connCount(): number {
    let n = 0;
    for (let i = 0; i < this.#members.length; i++) n += this.load(i);
    return n;
  }

  /** Hands worker `i` a connection an acceptor accepted (its onOpen runs there). */
  accepted(i: number, fd: number): void {
    const m = this.#members[i];
    m.handed++;
    m.worker.postMessage({ type: 'accepted', fd } satisfies PollerRequest);
  }

  /** Hands worker `i` a dialed or added socket; resolves with a stand-in once it is open there. */
  adopt(i: number, fd: number, how: RemoteAdoption): Promise<Conn> {
    const m = this.#members[i];
    m.handed++;
    return m.remotes.adopt(fd, how);
  }

  /**
   * Stops every poller (each closes its connections, calling onClose, then
   * onStop; `graceful`: each ends them first and waits up to `timeout` ms)
   * and waits for the threads to end.
   */
  async stop(graceful: boolean, timeout: number): Promise<void> {
    await Promise.all(
      this.#members.map(({ worker }) => {
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage({ type: 'stop', graceful, timeout } satisfies PollerRequest);
        return exited;
      }),
    );
  }

  /** During a graceful stop: every poller closes what is left now. */
  stopNow(): void {
    for (const { worker } of this.#members) worker.postMessage({ type: 'stop-now' } satisfies PollerRequest);
  }
}

/** Passes a worker's reports on: the plugin's to the engine, its connections' to their stand-ins. */
function forward(message: PollerMessage, events: PollerEvents, remotes: RemoteConns): void {
  switch (message.type) {
    case 'plugin-log':
      events.pluginLog?.(message.level, message.message);
      break;
    case 'plugin-error': {
      const err = new NbioError(message.code, message.message);
      err.cause = new Error(message.cause);
      events.pluginError(err);
      break;
    }
    case 'conn-opened':
    case 'conn-closed':
      remotes.report(message);
      break;
  }
}

function startedOrFailed(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: PollerMessage) => {
      if (message.type !== 'started' && message.type !== 'failed') return; // a report, forwarded elsewhere
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
