import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Conn, ConnState, type ConnOwner } from './conn.js';
import { NbioError, reviveError, type ErrorMessage, type NbioErrorCode } from './errors.js';
import { pollerFailed } from './fault.js';
import type { Handlers } from './handlers.js';
import type { EngineOptions } from './options.js';
import { FdRole, OwnedFds } from './owned-fds.js';
import { packageRoot } from './package-root.js';
import type { LogLevel } from './plugin/instance.js';
import { RemoteConns, type RemoteAdoption, type RemoteReport, type RemoteRequest } from './remote-conns.js';
import { StatsBoard } from './stats-board.js';
import type { PollerStats } from './stats.js';

/** The worker script that runs one poller (compiled from host/poller-worker.ts). */
const WORKER_SCRIPT = join(packageRoot, 'dist', 'host', 'poller-worker.js');

/** How long a worker may take to end once told to close everything before it is terminated. */
const STOP_GRACE_MS = 2_000;

/** Messages a poller worker posts to the engine that started it. */
export type PollerMessage =
  /** Started; `fds` is its reactor's descriptor table (host/owned-fds.ts). */
  | { type: 'started'; fds: SharedArrayBuffer }
  | { type: 'failed'; message: string; code?: string }
  /** An exception nothing in the worker caught (a handler's, rethrown): to raise in the engine's thread. */
  | { type: 'uncaught'; error: ErrorMessage }
  /** The worker's plugin instance failed (see `engine.onPluginError`). */
  | { type: 'plugin-error'; code: NbioErrorCode; message: string; cause: string }
  /** A log line of the worker's plugin instance. */
  | { type: 'plugin-log'; level: LogLevel; message: string }
  /** About a connection the engine's thread placed there (host/remote-conns.ts). */
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
  /** Where every worker publishes its figures (host/stats-board.ts). */
  stats: SharedArrayBuffer;
  /** This worker's place among them (and its slot on the board). */
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

/** One worker poller, as the engine's thread sees it. */
interface Member {
  worker: Worker;
  /** Its reactor's descriptors, once it started. */
  fds: OwnedFds | undefined;
  /** Resolves when the thread has ended. */
  exited: Promise<void>;
  /** The engine asked it to stop (an exit after that is expected). */
  stopping: boolean;
  /** The thread ended without being asked. */
  dead: boolean;
  /** Ends the thread if it has not ended by then (armed while it stops). */
  watchdog: NodeJS.Timeout | undefined;
  /** The watchdog ended it: it did not stop in time. */
  hung: boolean;
  /** Connections placed here by `dial` and `addConn` on the engine's thread. */
  remotes: RemoteConns;
  /** Descriptors handed to it so far (compare with its ADOPTED counter). */
  handed: number;
  /** Its connections closed here with ERR_NBIO_POLLER_FAILED once it died. */
  lost: number;
}

/**
 * The extra pollers of an engine with `pollers` > 1: worker threads, each
 * running an engine of its own with the handlers module loaded in it,
 * either listening on the same addresses (SO_REUSEPORT) or serving the
 * connections the engine's thread accepts and hands over.
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
 *   session: the worker's state died with it), closes the stand-ins of
 *   the connections placed there, and hands it nothing more. The other
 *   pollers go on;
 * - `stop()` resolves whatever state the workers are in: a worker that has
 *   not ended {@link STOP_GRACE_MS} after it was told to close everything
 *   (at once, or once a graceful stop's time-out passed) is stuck (a
 *   handler that never returns, say): it is terminated and handled as a
 *   worker that died, with ERR_NBIO_POLLER_FAILED. A graceful stop without
 *   a time-out waits as long as connections stay open, and so has no such
 *   bound.
 */
export class PollerGroup {
  readonly #members: Member[];
  readonly #handlers: Handlers;
  readonly #counters: Int32Array;
  readonly #board: StatsBoard;

  private constructor(members: Member[], handlers: Handlers, counters: Int32Array, board: StatsBoard) {
    this.#members = members;
    this.#handlers = handlers;
    this.#counters = counters;
    this.#board = board;
  }

  /**
   * Starts `count` pollers with `options` (plain data: addresses, a
   * handlers module, reusePort). Resolves once every one has started; if
   * one fails, stops those that started and rejects with its error.
   * `handlers` are the engine thread's: they hear about workers that fail;
   * `events` get the workers' plugin reports.
   */
  static async start(count: number, options: EngineOptions, handlers: Handlers, events: PollerEvents): Promise<PollerGroup> {
    // The workers run a file: a flag meant for a script given as a string
    // (`node --input-type=module -e ...`) would keep them from starting.
    // Otherwise they inherit the flags as usual.
    const inputType = (arg: string) => arg.startsWith('--input-type');
    const execArgv = process.execArgv.some(inputType) ? process.execArgv.filter((arg) => !inputType(arg)) : undefined;
    const counters = new SharedArrayBuffer(count * 2 * Int32Array.BYTES_PER_ELEMENT);
    const board = new StatsBoard(count);
    const members = Array.from({ length: count }, (_, index): Member => {
      const workerData: PollerData = { options, forwardPluginLog: events.pluginLog !== undefined, counters, stats: board.buffer, index };
      const worker = new Worker(WORKER_SCRIPT, { workerData, execArgv });
      const remotes = new RemoteConns((request) => worker.postMessage(request));
      // From the start: a plugin logs from its init, before the worker reports it started.
      worker.on('message', (message: PollerMessage) => relay(message, handlers, events, remotes));
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      return { worker, fds: undefined, exited, stopping: false, dead: false, watchdog: undefined, hung: false, remotes, handed: 0, lost: 0 };
    });
    const group = new PollerGroup(members, handlers, new Int32Array(counters), board);
    const started = await Promise.allSettled(members.map((m) => startedOrFailed(m)));
    const failure = started.find((r) => r.status === 'rejected');
    if (failure !== undefined) {
      await group.stop(false, 0);
      throw (failure as PromiseRejectedResult).reason;
    }
    for (const [i, m] of members.entries()) group.#watch(m, i + 1);
    return group;
  }

  /** Whether worker `i` still runs (it is handed connections only then). */
  alive(i: number): boolean {
    return !this.#members[i].dead;
  }

  /** Connections worker `i` serves, with those handed to it and not taken over yet. */
  load(i: number): number {
    const m = this.#members[i];
    if (m.dead) return 0;
    const c = this.#counters;
    return Atomics.load(c, 2 * i + COUNTERS.LIVE) + m.handed - Atomics.load(c, 2 * i + COUNTERS.ADOPTED);
  }

  /** Live connections over all workers. */
  get connCount(): number {
    let n = 0;
    for (let i = 0; i < this.#members.length; i++) n += this.load(i);
    return n;
  }

  /**
   * Each worker's figures, in order: what it published last (at the end of
   * its last dispatch, see host/poller-worker.ts; its final ones once it
   * stopped). A worker that died counts what it published last, with no
   * connection open and nothing queued, and the connections closed for it.
   */
  stats(): PollerStats[] {
    return this.#members.map((m, i) => {
      const reactor = this.#board.read(i);
      return m.dead ? { reactor: { ...reactor, connections: 0, queued: 0 }, lost: m.lost } : { reactor, lost: 0 };
    });
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
  async stop(graceful = false, timeout = 0): Promise<void> {
    await Promise.all(
      this.#members.map((m) => {
        m.stopping = true;
        m.worker.postMessage({ type: 'stop', graceful, timeout } satisfies PollerRequest);
        if (!graceful) this.#arm(m, STOP_GRACE_MS);
        else if (timeout > 0) this.#arm(m, timeout + STOP_GRACE_MS);
        return m.exited;
      }),
    );
  }

  /** During a graceful stop: every poller closes what is left now. */
  stopNow(): void {
    for (const m of this.#members) {
      m.worker.postMessage({ type: 'stop-now' } satisfies PollerRequest);
      this.#arm(m, STOP_GRACE_MS);
    }
  }

  /** Terminates `m`'s thread unless it ends within `ms`. */
  #arm(m: Member, ms: number): void {
    if (m.dead) return; // ended already: nothing to wait for
    clearTimeout(m.watchdog);
    m.watchdog = setTimeout(() => {
      m.hung = true;
      void m.worker.terminate();
    }, ms);
  }

  /** Contains a started worker's death. */
  #watch(m: Member, index: number): void {
    let cause: unknown;
    m.worker.on('error', (err) => {
      cause = err;
    });
    m.worker.once('exit', (code) => {
      clearTimeout(m.watchdog);
      if (m.hung) {
        const reason = `poller thread ${index} did not stop within ${STOP_GRACE_MS} ms of being told to and was terminated`;
        this.#lost(m, pollerFailed(reason, new Error('a handler in that thread did not return')));
        return;
      }
      if (m.stopping) {
        m.remotes.closeAll(new NbioError('ERR_NBIO_NOT_RUNNING', 'the engine stopped'));
        return;
      }
      const err = pollerFailed(`poller thread ${index} ended (exit code ${code})`, cause ?? new Error(`exit code ${code}`));
      this.#lost(m, err);
    });
  }

  /** A worker died: close what its reactor owned, and tell the application. */
  #lost(m: Member, err: NbioError): void {
    m.dead = true;
    m.remotes.closeAll(err);
    const closed = m.fds?.closeAll() ?? [];
    const handlers = this.#handlers;
    handlers.reportError(err);
    for (const [fd, role] of closed) {
      if (role !== FdRole.Conn) continue;
      m.lost++;
      const conn = new Conn(LOST, fd, ConnState.Closed);
      handlers.call(() => handlers.onClose(conn, err));
    }
    handlers.rethrow();
  }
}

/**
 * Raises a worker's uncaught exception in this thread; passes its plugin's
 * reports on, and its reports about placed connections to their stand-ins.
 */
function relay(message: PollerMessage, handlers: Handlers, events: PollerEvents, remotes: RemoteConns): void {
  switch (message.type) {
    case 'uncaught':
      handlers.capture(reviveError(message.error));
      handlers.rethrow();
      break;
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
