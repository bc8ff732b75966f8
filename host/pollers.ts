import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Conn, ConnState, type ConnOwner } from './conn.js';
import { NbioError, type NbioErrorCode } from './errors.js';
import { pollerFailed } from './fault.js';
import type { Handlers } from './handlers.js';
import type { EngineOptions } from './options.js';
import { FdRole, OwnedFds } from './owned-fds.js';
import { packageRoot } from './package-root.js';
import type { LogLevel } from './plugin/instance.js';

/** The worker script that runs one poller (compiled from host/poller-worker.ts). */
const WORKER_SCRIPT = join(packageRoot, 'dist', 'host', 'poller-worker.js');

/** An error as it crosses threads: what is needed to raise it again. */
export interface ErrorMessage {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** Messages a poller worker posts to the engine that started it. */
export type PollerMessage =
  /** Listening; `fds` is its reactor's descriptor table (host/owned-fds.ts). */
  | { type: 'started'; fds: SharedArrayBuffer }
  | { type: 'failed'; message: string; code?: string }
  /** An exception nothing in the worker caught (a handler's, rethrown): to raise in the engine's thread. */
  | { type: 'uncaught'; error: ErrorMessage }
  /** The worker's plugin instance failed (see `engine.onPluginError`). */
  | { type: 'plugin-error'; code: NbioErrorCode; message: string; cause: string }
  /** A log line of the worker's plugin instance. */
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

/** One worker poller, as the engine's thread sees it. */
interface Member {
  worker: Worker;
  /** Its reactor's descriptors, once it started. */
  fds: OwnedFds | undefined;
  /** Resolves when the thread has ended. */
  exited: Promise<void>;
  /** The engine asked it to stop (an exit after that is expected). */
  stopping: boolean;
}

/**
 * The extra pollers of an engine with `pollers` > 1: worker threads, each
 * running an engine of its own on the same listen addresses (SO_REUSEPORT)
 * with the handlers module loaded in it.
 *
 * Faults stay contained:
 * - an exception nothing in a worker catches (a handler's included) does
 *   not end the worker: it is raised again in the engine's thread as an
 *   uncaught exception, as a handler's exception is there;
 * - a worker that ends without being asked (terminated, `process.exit` in
 *   a handler, a fatal error) is noticed at once: the engine's thread
 *   closes every descriptor its reactor owned (its listener leaves the
 *   SO_REUSEPORT group, so new connections go to the other pollers), calls
 *   `onError` and then `onClose` for each of its connections with
 *   ERR_NBIO_POLLER_FAILED (those `Conn`s are closed already and carry no
 *   session: the worker's state died with it). The other pollers go on;
 * - `stop()` resolves whatever state the workers are in.
 */
export class PollerGroup {
  readonly #members: Member[];
  readonly #handlers: Handlers;

  private constructor(members: Member[], handlers: Handlers) {
    this.#members = members;
    this.#handlers = handlers;
  }

  /**
   * Starts `count` pollers with `options` (plain data: bound addresses, a
   * handlers module, reusePort). Resolves once every one listens; if one
   * fails, stops those that started and rejects with its error. `handlers`
   * are the engine thread's: they hear about workers that fail; `events`
   * get the workers' plugin reports.
   */
  static async start(count: number, options: EngineOptions, handlers: Handlers, events: PollerEvents): Promise<PollerGroup> {
    // The workers run a file: a flag meant for a script given as a string
    // (`node --input-type=module -e ...`) would keep them from starting.
    // Otherwise they inherit the flags as usual.
    const inputType = (arg: string) => arg.startsWith('--input-type');
    const execArgv = process.execArgv.some(inputType) ? process.execArgv.filter((arg) => !inputType(arg)) : undefined;
    const members = Array.from({ length: count }, () => {
      const workerData: PollerData = { options, forwardPluginLog: events.pluginLog !== undefined };
      const worker = new Worker(WORKER_SCRIPT, { workerData, execArgv });
      // From the start: a plugin logs from its init, before the worker reports it started.
      worker.on('message', (message: PollerMessage) => relay(message, handlers, events));
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      return { worker, fds: undefined, exited, stopping: false } as Member;
    });
    const group = new PollerGroup(members, handlers);
    const started = await Promise.allSettled(members.map((m) => startedOrFailed(m)));
    const failure = started.find((r) => r.status === 'rejected');
    if (failure !== undefined) {
      await group.stop();
      throw (failure as PromiseRejectedResult).reason;
    }
    for (const [i, m] of members.entries()) group.#watch(m, i + 1);
    return group;
  }

  /** Stops every poller (each closes its connections, calling onClose, then onStop) and waits for the threads to end. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#members.map((m) => {
        m.stopping = true;
        m.worker.postMessage({ type: 'stop' } satisfies PollerRequest);
        return m.exited;
      }),
    );
  }

  /** Contains a started worker's death. */
  #watch(m: Member, index: number): void {
    let cause: unknown;
    m.worker.on('error', (err) => {
      cause = err;
    });
    m.worker.once('exit', (code) => {
      if (m.stopping) return;
      const err = pollerFailed(`poller thread ${index} ended (exit code ${code})`, cause ?? new Error(`exit code ${code}`));
      this.#lost(m, err);
    });
  }

  /** A worker died: close what its reactor owned, and tell the application. */
  #lost(m: Member, err: NbioError): void {
    const closed = m.fds?.closeAll() ?? [];
    const handlers = this.#handlers;
    handlers.reportError(err);
    for (const [fd, role] of closed) {
      if (role !== FdRole.Conn) continue;
      const conn = new Conn(LOST, fd, ConnState.Closed);
      handlers.call(() => handlers.onClose(conn, err));
    }
    handlers.rethrow();
  }
}

/** Raises a worker's uncaught exception in this thread; passes its plugin's reports on. */
function relay(message: PollerMessage, handlers: Handlers, events: PollerEvents): void {
  if (message.type === 'uncaught') {
    handlers.capture(revive(message.error));
    handlers.rethrow();
  } else if (message.type === 'plugin-log') {
    events.pluginLog?.(message.level, message.message);
  } else if (message.type === 'plugin-error') {
    const err = new NbioError(message.code, message.message);
    err.cause = new Error(message.cause);
    events.pluginError(err);
  }
}

/** The owner of connections lost with a dead worker: closed, so nothing ever calls it. */
const LOST: ConnOwner = new Proxy({} as ConnOwner, {
  get() {
    throw new Error('nbio-wasm: a connection of a dead poller was used');
  },
});

/** Waits for a worker's first word: started (keeping its descriptor table) or failed. */
function startedOrFailed(m: Member): Promise<void> {
  const worker = m.worker;
  return new Promise((resolve, reject) => {
    const onMessage = (message: PollerMessage) => {
      if (message.type !== 'started' && message.type !== 'failed') return; // relayed
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (message.type === 'started') {
        m.fds = OwnedFds.from(message.fds);
        return resolve();
      }
      const err = new Error(`poller failed to start: ${message.message}`) as Error & { code?: string };
      if (message.code !== undefined) err.code = message.code;
      reject(err);
    };
    const onError = (err: Error) => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      reject(err);
    };
    const onExit = (code: number) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      reject(new Error(`poller exited (code ${code}) before it started`));
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
}

/** Describes an error for another thread. */
export function describeError(error: unknown): ErrorMessage {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { name, message, stack } = error;
  const code = (error as { code?: unknown }).code;
  return { name, message, stack, ...(typeof code === 'string' ? { code } : {}) };
}

/** An Error again from its description. */
function revive(d: ErrorMessage): Error {
  const err = new Error(d.message) as Error & { code?: string };
  err.name = d.name;
  if (d.stack !== undefined) err.stack = d.stack;
  if (d.code !== undefined) err.code = d.code;
  return err;
}
