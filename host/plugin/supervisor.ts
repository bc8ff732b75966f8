/**
 * A poller's plugin over time: one instance at a time serves its
 * connections; failures are contained, reported and followed by a new
 * instance (or the plugin is disabled); events are paced by the turn
 * budget (turns.ts).
 */
import { ConnState, type CloseReason as ConnCloseReason, type Conn } from '../api/conn.js';
import { NbioError, withoutStack } from '../api/errors.js';
import type { LogLevel } from '../api/plugin-options.js';
import type { HandleSizes } from './handles.js';
import { CloseReason, PluginInstance, type InstanceHost } from './instance.js';
import type { PluginModule } from './module.js';
import type { ResolvedPluginOptions } from '../api/plugin-options.js';
import { RestartWindow } from './restart-window.js';
import { PauseReason, Pauses, TurnBudget, type WaitingEvent } from './turns.js';

/** Longest pause between re-creations of a failing plugin. */
const MAX_RESTART_DELAY_MS = 30_000;

/** What the supervisor needs from the poller whose connections it serves. */
export interface ConnCloser {
  /** Closes `conn` (discarding queued bytes); its onClose receives `err`. */
  fail(conn: Conn, err: NbioError): void;
}

/** Where the supervisor reports to: the engine's `onPluginError` and the `log` option. */
export interface PluginEvents {
  error(err: NbioError): void;
  log(level: LogLevel, message: string): void;
}

/** `engine.pluginStats`: what a poller's plugin did so far. */
export interface PluginStats {
  /** `running`: an instance serves; `restarting`: waiting to re-create one; `disabled`: failed too often; `stopped`: the engine stopped. */
  state: 'running' | 'restarting' | 'disabled' | 'stopped';
  /** Instances that failed (trapped or hit a limit), over the engine's life. */
  failures: number;
  /**
   * Failures within the last `restartWindow` ms: what `maxRestarts` and the
   * restart backoff count (the plugin is disabled when it passes
   * `maxRestarts`; the next re-creation waits `restartDelay` × 2^(this − 1)).
   */
  recentFailures: number;
  /** Instances re-created after a failure, over the engine's life. */
  restarts: number;
  /** Calls into the plugin (events), over all its instances. */
  events: number;
  /** Fuel those calls used. */
  fuelUsed: number;
  /** Connections the plugin serves: the current instance's, and those of instances replaced whose connections are still open. */
  connections: number;
}

/**
 * Runs a plugin for one poller: one instance at a time takes the new
 * connections of the poller. When an instance fails, only its connections
 * close (each onClose gets the failure, ERR_NBIO_PLUGIN_TRAP or
 * ERR_NBIO_PLUGIN_LIMIT, with the cause attached), the failure is
 * reported, and a new instance is created after `restartDelay` ×
 * 2^(n − 1) ms (up to 30 s; none at all with `restartDelay` 0), n being the
 * failures within the last `restartWindow` ms, this one included: the delay
 * doubles while failures follow each other, and is `restartDelay` again
 * once the plugin has gone `restartWindow` ms without failing.
 * Connections that open meanwhile wait, paused, and go to the new
 * instance. When more than `maxRestarts` failures fall within
 * `restartWindow` ms the plugin is disabled: waiting and new connections
 * are closed with ERR_NBIO_PLUGIN_DISABLED.
 *
 * An instance whose handles are spent by age (handles.ts: each slot of
 * its table served all its generations) is replaced, which is not a
 * failure: a new instance takes the new connections, and the old one
 * serves those it has until they close, then is dropped (logged at info
 * level). If it fails meanwhile, its connections close with the failure,
 * which counts (`failures`, `restartWindow`), and nothing is re-created
 * for it.
 *
 * Events beyond the plugin's budget for one turn of the event loop wait
 * for the next turn (turns.ts); a connection's close reaches the plugin
 * after its events that wait.
 */
export class PluginSupervisor {
  readonly #plugin: PluginModule;
  readonly #options: ResolvedPluginOptions;
  readonly #events: PluginEvents;
  readonly #host: InstanceHost;
  #closer: ConnCloser | undefined;
  #instance: PluginInstance | undefined;
  /** Instances replaced because their handles are spent, serving their open connections until these close. */
  readonly #draining: PluginInstance[] = [];
  readonly #handleSizes: HandleSizes | undefined;
  /** The instance being initialised, and how it failed, if it did. */
  #spawning: PluginInstance | undefined;
  #spawnFailure: NbioError | undefined;
  #state: PluginStats['state'] = 'running';
  #disabled: NbioError | undefined;
  /** Connections that opened while no instance could take them. */
  readonly #waiting = new Set<Conn>();
  readonly #pauses = new Pauses();
  readonly #turns: TurnBudget;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  readonly #recent: RestartWindow;
  #restarts = 0;
  /** Events and fuel of instances no longer current. */
  #pastEvents = 0;
  #pastFuel = 0;
  /** Set when the engine stops: closes are reported to the plugin as `stopped`. */
  stopping = false;

  /**
   * `writeQueueLimit`: most bytes a connection may have queued; the
   * plugin's writes take no more. `handleSizes`: of each instance's table
   * of connections (default: the most a handle can name).
   */
  constructor(plugin: PluginModule, options: ResolvedPluginOptions, writeQueueLimit: number, events: PluginEvents, handleSizes?: HandleSizes) {
    this.#plugin = plugin;
    this.#handleSizes = handleSizes;
    this.#options = options;
    this.#events = events;
    this.#recent = new RestartWindow(options.restartWindow);
    this.#turns = new TurnBudget((event) => this.#run(event), this.#pauses, () => this.#total('fuelUsed'));
    this.#host = {
      fuelPerEvent: options.fuelPerEvent,
      timePerEvent: options.timePerEvent,
      writeQueueLimit,
      log: (level, message) => events.log(level, message),
      pause: (conn) => this.#pauses.add(conn, PauseReason.Plugin),
      ranLong: (ms) => this.#turns.ranLong(ms),
      resume: (conn) => this.#pauses.remove(conn, PauseReason.Plugin),
      failed: (instance, err) => this.#failed(instance, err),
    };
  }

  /** Creates the first instance; throws ERR_NBIO_PLUGIN_LOAD if it cannot be created or its init fails. */
  start(closer: ConnCloser): void {
    this.#closer = closer;
    const failure = this.#spawn();
    if (failure !== undefined) {
      const err = new NbioError('ERR_NBIO_PLUGIN_LOAD', `the plugin did not start: ${failure.message}`);
      err.cause = failure;
      throw err;
    }
  }

  /** Stops: no more re-creations; the instance is dropped. */
  stop(): void {
    this.#state = 'stopped';
    clearTimeout(this.#timer);
    this.#turns.stop();
    const instance = this.#instance;
    this.#retire();
    instance?.release();
    for (const old of [...this.#draining]) this.#drop(old);
  }

  get stats(): PluginStats {
    return {
      state: this.#state,
      failures: this.#failures,
      recentFailures: this.#recent.count(),
      restarts: this.#restarts,
      events: this.#total('events'),
      fuelUsed: this.#total('fuelUsed'),
      connections: [this.#instance, ...this.#draining].reduce((sum, instance) => sum + (instance?.openCount ?? 0), 0),
    };
  }

  /** Events or fuel over all instances, past and present. */
  #total(what: 'events' | 'fuelUsed'): number {
    let sum = (what === 'events' ? this.#pastEvents : this.#pastFuel) + (this.#instance?.[what] ?? 0);
    for (const old of this.#draining) sum += old[what];
    return sum;
  }

  /** The instance serving `conn`: the current one, or one replaced that still serves it. */
  #owner(conn: Conn): PluginInstance | undefined {
    const current = this.#instance;
    if (this.#draining.length === 0 || current?.has(conn)) return current;
    return this.#draining.find((old) => old.has(conn));
  }

  /** A connection opened: given to the instance, or kept waiting, or refused. */
  open(conn: Conn): void {
    if (this.#turns.admits()) this.#timed({ kind: 'open', conn });
    else this.#turns.wait({ kind: 'open', conn });
  }

  data(conn: Conn, data: Uint8Array): void {
    if (!this.#turns.admits()) this.#turns.wait({ kind: 'data', conn, data: data.slice() });
    else if (!this.#turns.timing) this.#owner(conn)?.data(conn, data);
    else this.#timed({ kind: 'data', conn, data });
  }

  drain(conn: Conn): void {
    if (this.#turns.admits()) this.#timed({ kind: 'drain', conn });
    else this.#turns.wait({ kind: 'drain', conn });
  }

  /** A connection closed (`conn.closeReason` says why). */
  closed(conn: Conn): void {
    if (this.stopping) this.#turns.flush();
    if (this.#turns.admits()) this.#timed({ kind: 'close', conn });
    else this.#turns.wait({ kind: 'close', conn });
  }

  /** Runs an event now, timed if the turn times its events. */
  #timed(event: WaitingEvent): void {
    if (!this.#turns.timing) return this.#run(event);
    this.#turns.begin();
    this.#run(event);
    this.#turns.end();
  }

  /** Runs an event: given to the instance. */
  #run(event: WaitingEvent): void {
    switch (event.kind) {
      case 'open':
        if (event.conn.state === ConnState.Open || event.conn.state === ConnState.Ending) this.#open(event.conn);
        break;
      case 'data':
        this.#owner(event.conn)?.data(event.conn, event.data);
        break;
      case 'drain':
        this.#owner(event.conn)?.drain(event.conn);
        break;
      case 'close':
        this.#closed(event.conn);
        break;
    }
  }

  #open(conn: Conn): void {
    if (this.#disabled !== undefined) return this.#closer!.fail(conn, this.#disabled);
    if (this.#instance?.spent) this.#replace();
    if (this.#instance !== undefined) this.#instance.open(conn);
    else if (this.#state === 'restarting') {
      this.#pauses.add(conn, PauseReason.Waiting);
      this.#waiting.add(conn);
    }
  }

  #closed(conn: Conn): void {
    this.#waiting.delete(conn);
    this.#pauses.forget(conn);
    const owner = this.#owner(conn);
    owner?.close(conn, this.stopping ? CloseReason.Stopped : PLUGIN_REASON[conn.closeReason ?? 'local']);
    if (owner !== undefined && owner !== this.#instance && !owner.dead && owner.openCount === 0) this.#drop(owner);
  }

  /**
   * The current instance's handles are spent: it serves the connections it
   * has until they close, and a new instance takes the new ones. Not a
   * failure; if the new instance cannot start, that is one.
   */
  #replace(): void {
    const old = this.#instance!;
    this.#instance = undefined;
    const open = old.openCount;
    this.#events.log('info', 'nbio-wasm: the plugin instance gave every handle its table can give (each slot served all its ' +
      `generations); a new instance takes new connections, the old one serves its ${open} open connections until they close`);
    if (open > 0) this.#draining.push(old);
    else this.#drop(old);
    const failure = this.#spawn();
    if (failure === undefined) return;
    const recent = this.#countFailure();
    this.#events.error(failure);
    this.#afterFailure(failure, recent);
  }

  /** Drops a replaced instance (its connections closed, or it failed), keeping its counts. */
  #drop(old: PluginInstance): void {
    const at = this.#draining.indexOf(old);
    if (at >= 0) this.#draining.splice(at, 1);
    this.#pastEvents += old.events;
    this.#pastFuel += old.fuelUsed;
    old.release();
  }

  /** Creates and initialises an instance; returns why that failed, or undefined. */
  #spawn(): NbioError | undefined {
    let instance: PluginInstance;
    try {
      instance = new PluginInstance(this.#plugin, this.#host, this.#handleSizes);
    } catch (err) {
      const failure = new NbioError('ERR_NBIO_PLUGIN_LOAD', `instantiating the plugin failed: ${(err as Error).message}`);
      failure.cause = err;
      return failure;
    }
    this.#spawning = instance;
    this.#spawnFailure = undefined;
    const refused = instance.init(this.#options.config);
    this.#spawning = undefined;
    if (this.#spawnFailure !== undefined) {
      this.#pastEvents += instance.events;
      this.#pastFuel += instance.fuelUsed;
      instance.release();
      return this.#spawnFailure;
    }
    if (refused !== undefined) {
      instance.release();
      return new NbioError('ERR_NBIO_PLUGIN_LOAD', `the plugin's init refused its config: ${refused}`);
    }
    this.#instance = instance;
    this.#state = 'running';
    return undefined;
  }

  /** An instance failed (called from inside its failing call). */
  #failed(instance: PluginInstance, err: NbioError): void {
    if (instance === this.#spawning) {
      this.#spawnFailure = err;
      return;
    }
    const current = instance === this.#instance;
    if (!current && !this.#draining.includes(instance)) return;
    if (current) this.#retire();
    const recent = this.#countFailure();
    for (const conn of instance.connections()) this.#closer!.fail(conn, err);
    this.#events.error(err);
    if (current) {
      this.#afterFailure(err, recent);
      instance.release();
    } else {
      this.#drop(instance);
    }
  }

  /** Counts a failure; returns the failures within the window, this one included. */
  #countFailure(): number {
    this.#failures++;
    return this.#recent.record();
  }

  /** After a failure (`recent`: the failures within the window): re-create later, or disable. */
  #afterFailure(cause: NbioError, recent: number): void {
    if (this.#state === 'stopped') return;
    const { maxRestarts, restartWindow, restartDelay } = this.#options;
    if (recent > maxRestarts) {
      this.#state = 'disabled';
      const disabled = withoutStack(() => new NbioError('ERR_NBIO_PLUGIN_DISABLED',
        `the plugin is disabled after ${recent} failures within ${restartWindow} ms (maxRestarts: ${maxRestarts}, restartWindow: ${restartWindow})`));
      disabled.cause = cause;
      this.#disabled = disabled;
      this.#events.error(disabled);
      for (const conn of this.#waiting) this.#closer!.fail(conn, disabled);
      this.#waiting.clear();
      return;
    }
    this.#state = 'restarting';
    const delay = Math.min(restartDelay * 2 ** (recent - 1), MAX_RESTART_DELAY_MS);
    this.#timer = setTimeout(() => this.#restart(), delay);
  }

  #restart(): void {
    this.#timer = undefined;
    if (this.#state !== 'restarting') return;
    const failure = this.#spawn();
    if (failure !== undefined) {
      const recent = this.#countFailure();
      this.#events.error(failure);
      this.#afterFailure(failure, recent);
      return;
    }
    this.#restarts++;
    const instance = this.#instance!;
    for (const conn of this.#waiting) {
      this.#waiting.delete(conn);
      if (conn.state !== ConnState.Open && conn.state !== ConnState.Ending) continue;
      instance.open(conn);
      if (instance.dead) return; // its failure closed what it had and decided what next
      this.#pauses.remove(conn, PauseReason.Waiting);
    }
  }

  /** Drops the current instance, keeping its counts (its memory is released by whoever retires it). */
  #retire(): void {
    const instance = this.#instance;
    if (instance === undefined) return;
    this.#instance = undefined;
    this.#pastEvents += instance.events;
    this.#pastFuel += instance.fuelUsed;
  }
}

/** The plugin world's close reason for each `conn.closeReason`. */
const PLUGIN_REASON: { readonly [R in ConnCloseReason]: CloseReason } = {
  local: CloseReason.Local,
  peer: CloseReason.Peer,
  timeout: CloseReason.Timeout,
  error: CloseReason.Error,
};
