/**
 * The worker pollers of an engine with `pollers` > 1: started, handed
 * connections, stopped, and settled when one fails; the messages between
 * them and the engine's thread.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Containment, WorkerRemains, type WorkerParts } from '../poller/containment.js';
import type { Conn } from '../api/conn.js';
import { NbioError, reviveError, type ErrorMessage, type NbioErrorCode } from '../api/errors.js';
import { pollerFailed } from '../poller/fault.js';
import type { Handlers } from '../api/handlers.js';
import { OpenedConns } from '../poller/opened-conns.js';
import type { EngineOptions } from '../api/options.js';
import { FdRole, OwnedFds } from '../sys/owned-fds.js';
import { packageRoot } from '../sys/package-root.js';
import type { LogLevel } from '../api/plugin-options.js';
import { RemoteConns, type RemoteAdoption, type RemoteReport, type RemoteRequest } from './remote-conns.js';
import { StatsBoard } from '../poller/stats-board.js';
import type { PollerStats } from '../api/stats.js';

/** The worker script that runs one poller (compiled from host/poller-worker.ts). */
const WORKER_SCRIPT = join(packageRoot, 'dist', 'host', 'poller-worker.js');

/** How long a worker may take to end once told to close everything (or once it failed) before it is terminated. */
const STOP_GRACE_MS = 2_000;

/** Messages a poller worker posts to the engine that started it. */
export type PollerMessage =
  /** Started; `fds` is its reactor's descriptor table (host/sys/owned-fds.ts), `opened` its opened connections (host/poller/opened-conns.ts). */
  | { type: 'started'; fds: SharedArrayBuffer; opened: SharedArrayBuffer }
  | { type: 'failed'; message: string; code?: string }
  /** Its poller failed (and is contained there): hand it nothing more; the thread ends next. */
  | { type: 'poller-failed'; error: ErrorMessage }
  /** Its engine stopped as asked, with its final figures published: the thread ends next. */
  | { type: 'stopped' }
  /** An exception nothing in the worker caught (a handler's, rethrown): to raise in the engine's thread. */
  | { type: 'uncaught'; error: ErrorMessage }
  /** The worker's plugin instance failed (see `engine.onPluginError`). */
  | { type: 'plugin-error'; code: NbioErrorCode; message: string; cause: string }
  /** A log line of the worker's plugin instance. */
  | { type: 'plugin-log'; level: LogLevel; message: string }
  /** About a connection the engine's thread placed there (host/pollers/remote-conns.ts). */
  | RemoteReport;

/** What a poller worker is started with. */
export interface PollerData {
  options: EngineOptions;
  /** Post the plugin's log lines (`plugin-log`): the engine that started it has a `log` handler. */
  forwardPluginLog: boolean;
  /** Where every worker publishes its figures and its load (host/poller/stats-board.ts). */
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
class Member implements WorkerParts {
  readonly worker: Worker;
  /** Its number among the pollers (1 for the first worker: 0 is the engine's thread). */
  readonly number: number;
  readonly handlers: Handlers;
  /** Its reactor's descriptors and opened connections, once it started. */
  fds: OwnedFds | undefined;
  opened: OpenedConns | undefined;
  /** Resolves when the thread has ended (after its containment). */
  readonly exited: Promise<void>;
  /** It said its engine stopped as asked: its end is not a failure. */
  stopped = false;
  /** It failed or ended: it is handed nothing more. */
  detached = false;
  /** Its thread has ended. */
  ended = false;
  /** Ends the thread if it has not ended by then (armed while it stops, and once it failed). */
  watchdog: NodeJS.Timeout | undefined;
  /** The watchdog ended it: it did not stop in time. */
  hung = false;
  /** Connections placed here by `dial` and `addConn` on the engine's thread. */
  readonly remotes: RemoteConns;
  /** Descriptors handed to it so far (compare with its ADOPTED counter). */
  handed = 0;
  /** How it ends when it fails, and when it stops (host/poller/containment.ts). */
  readonly containment: Containment;

  constructor(worker: Worker, number: number, handlers: Handlers) {
    this.worker = worker;
    this.number = number;
    this.handlers = handlers;
    this.remotes = new RemoteConns((request) => worker.postMessage(request));
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.containment = new Containment(new WorkerRemains(this), {
      handlers,
      report: (err) => handlers.reportError(err),
      failed: () => {},
    });
  }

  detach(): void {
    this.detached = true;
  }

  /** Terminates the thread unless it ends within `ms`. */
  arm(ms: number): void {
    if (this.ended) return;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.hung = true;
      void this.worker.terminate();
    }, ms);
  }

  /** Hands it `fd`: recorded as its own before it is posted (host/sys/owned-fds.ts). */
  hand(fd: number): void {
    this.fds!.add(fd, FdRole.Handed);
    this.handed++;
  }

  /**
   * Contains its end (host/poller/containment.ts): the failure it reported, or
   * having been stuck, or ending without being asked; a clean stop if it
   * said it stopped.
   */
  watch(): void {
    let cause: unknown;
    this.worker.on('error', (err) => {
      cause = err;
    });
    this.worker.once('exit', (code) => {
      this.ended = true;
      clearTimeout(this.watchdog);
      const n = this.number;
      if (this.hung) {
        const reason = `poller thread ${n} did not stop within ${STOP_GRACE_MS} ms of being told to and was terminated`;
        this.containment.fail(pollerFailed(reason, new Error('a handler in that thread did not return')));
      } else if (!this.stopped) {
        this.containment.fail(pollerFailed(`poller thread ${n} ended (exit code ${code})`, cause ?? new Error(`exit code ${code}`)));
      }
      this.containment.contain();
    });
  }

  /** Its poller failed (it contained it there): detached now; the rest once the thread has ended. */
  failed(error: ErrorMessage): void {
    const err = new NbioError((error.code ?? 'ERR_NBIO_POLLER_FAILED') as NbioErrorCode, error.message, { cause: reviveError(error) });
    if (this.containment.fail(err)) this.arm(STOP_GRACE_MS);
  }
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
 * - a worker whose poller fails contains it there (its connections get
 *   `onClose` in that thread), says so (it is handed nothing more from
 *   then on) and ends; the failure is reported here, once;
 * - a worker that ends without being asked (terminated, `process.exit` in
 *   a handler, a fatal error), during a stop or not, is handed nothing more
 *   and contained here once its thread has ended: every descriptor its
 *   reactor owned or was handed is closed (its listener leaves the
 *   SO_REUSEPORT group, so new connections go to the other pollers),
 *   `onError` is called, then `onClose` with ERR_NBIO_POLLER_FAILED for
 *   each connection whose `onOpen` ran there and whose `onClose` did not
 *   (with its stand-in if one was placed from here, else with a `Conn`
 *   that is closed already and carries no session), and dials placed
 *   there and not open yet reject with it. The other pollers go on. The
 *   one path is in host/poller/containment.ts;
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
  readonly #board: StatsBoard;

  private constructor(members: Member[], board: StatsBoard) {
    this.#members = members;
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
    const board = new StatsBoard(count);
    const members = Array.from({ length: count }, (_, index): Member => {
      const workerData: PollerData = { options, forwardPluginLog: events.pluginLog !== undefined, stats: board.buffer, index };
      const m = new Member(new Worker(WORKER_SCRIPT, { workerData, execArgv }), index + 1, handlers);
      // From the start: a plugin logs from its init, before the worker reports it started.
      m.worker.on('message', (message: PollerMessage) => relay(message, m, events));
      return m;
    });
    const group = new PollerGroup(members, board);
    const started = await Promise.allSettled(members.map((m) => startedOrFailed(m)));
    const failure = started.find((r) => r.status === 'rejected');
    if (failure !== undefined) {
      await group.stop(false, 0);
      throw (failure as PromiseRejectedResult).reason;
    }
    for (const m of members) m.watch();
    return group;
  }

  /** Whether worker `i` still works (it is handed connections only then). */
  alive(i: number): boolean {
    return !this.#members[i].detached;
  }

  /** Connections worker `i` serves, with those handed to it and not taken over yet. */
  load(i: number): number {
    const m = this.#members[i];
    if (m.detached) return 0;
    return this.#board.live(i) + m.handed - this.#board.adopted(i);
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
   * stopped), and, for a worker that failed or died, its failure's code
   * (host/api/stats.ts says how that counts).
   */
  stats(): PollerStats[] {
    return this.#members.map((m, i) => ({ reactor: this.#board.read(i), failedWith: m.containment.failure?.code }));
  }

  /** Hands worker `i` a connection an acceptor accepted (its onOpen runs there). */
  accepted(i: number, fd: number): void {
    const m = this.#members[i];
    m.hand(fd);
    m.worker.postMessage({ type: 'accepted', fd } satisfies PollerRequest);
  }

  /** Hands worker `i` a dialed or added socket; resolves with a stand-in once it is open there. */
  adopt(i: number, fd: number, how: RemoteAdoption): Promise<Conn> {
    const m = this.#members[i];
    m.hand(fd);
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
        m.worker.postMessage({ type: 'stop', graceful, timeout } satisfies PollerRequest);
        if (!graceful) m.arm(STOP_GRACE_MS);
        else if (timeout > 0) m.arm(timeout + STOP_GRACE_MS);
        return m.exited;
      }),
    );
  }

  /** Whether the worker threads keep the process alive (`worker.ref()` / `unref()`); they serve either way. */
  setRef(ref: boolean): void {
    for (const m of this.#members) {
      if (ref) m.worker.ref();
      else m.worker.unref();
    }
  }

  /** During a graceful stop: every poller closes what is left now. */
  stopNow(): void {
    for (const m of this.#members) {
      m.worker.postMessage({ type: 'stop-now' } satisfies PollerRequest);
      m.arm(STOP_GRACE_MS);
    }
  }
}

/**
 * Acts on what worker `m` reports: raises its uncaught exceptions in this
 * thread, detaches it when its poller failed, passes its plugin's reports
 * on, and its reports about placed connections to their stand-ins.
 */
function relay(message: PollerMessage, m: Member, events: PollerEvents): void {
  switch (message.type) {
    case 'uncaught':
      m.handlers.capture(reviveError(message.error));
      m.handlers.rethrow();
      break;
    case 'poller-failed':
      m.failed(message.error);
      break;
    case 'stopped':
      m.stopped = true;
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
      m.remotes.report(message);
      break;
  }
}

/** Waits for a worker's first word: started (keeping its shared tables) or failed. */
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
        m.opened = OpenedConns.from(message.opened);
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
