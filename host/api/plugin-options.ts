/**
 * The `plugin` option of an engine: what it takes (the component, its
 * limits, its log), checked, with its defaults.
 */
import { NbioError } from './errors.js';
import type { Level } from '../generated/abi.js';
import { PAGE } from '../guest/memory.js';

/** Where a plugin comes from: a path, a URL (file:, http:, https:, data:) or the bytes. */
export type PluginSource = string | URL | Uint8Array;

/** `host.level`, as the application's `log` receives it: the case's name in lower case. */
export type LogLevel = Lowercase<keyof typeof Level>;

/** The `plugin` option of `new Engine(options)`. */
export interface PluginOptions {
  /** The plugin component: a path, a URL (file:, http:, https:) or its bytes. */
  module: PluginSource;
  /**
   * Most bytes one instance may hold: its linear memory, all its tables,
   * and what instantiating it allocates besides (globals, exports,
   * functions; see README, "Plugins"). A module whose declared minimums
   * need more is refused at start(); a `memory.grow` or `table.grow` past
   * it stops the event (ERR_NBIO_PLUGIN_LIMIT). Default 16 MiB.
   */
  maxMemory?: number;
  /**
   * CPU budget of one event (one call into the plugin), in fuel units: about
   * one per WebAssembly instruction executed, with host calls and bulk
   * memory instructions charged for their work (see README, "Plugins").
   * Running out stops the call (ERR_NBIO_PLUGIN_LIMIT). Default 50,000,000
   * (a few milliseconds of CPU).
   */
  fuelPerEvent?: number;
  /**
   * Time limit of one event, in milliseconds, whatever fuel is left: an
   * event that has run longer stops (ERR_NBIO_PLUGIN_LIMIT). Checked each
   * time the event has used another 1,000,000 units of fuel, from
   * 3,000,000 on, it counts the CPU time of the thread from the end of the
   * event's first 1,000,000 units, so a stretch during which the system
   * runs other processes does not stop it. Default 5.
   */
  timePerEvent?: number;
  /** Bytes (or a string, as UTF-8) given to the plugin's `init`, copied at start(). Default: empty. */
  config?: string | Uint8Array;
  /**
   * Failures (traps, limits) within `restartWindow` ms that are followed by
   * a new instance: one more and the plugin is disabled
   * (ERR_NBIO_PLUGIN_DISABLED). Default 5.
   */
  maxRestarts?: number;
  /**
   * Milliseconds a failure counts against the plugin, for `maxRestarts` and
   * for the backoff of `restartDelay`: a plugin that fails now and then,
   * fewer than `maxRestarts` + 1 times in any such span, is never disabled.
   * Default 60,000.
   */
  restartWindow?: number;
  /**
   * Milliseconds before re-creating a failed instance, doubled for each
   * other failure within the last `restartWindow` ms, up to 30 s: so once
   * the plugin has gone `restartWindow` ms without failing, the next
   * failure waits `restartDelay` again. Default 100. 0 means no delay and
   * no backoff at all: every failure is followed by a new instance at once.
   */
  restartDelay?: number;
  /** Receives the plugin's log lines (`host.log`). Default: they are dropped. */
  log?: (level: LogLevel, message: string) => void;
}

/** {@link PluginOptions} after validation, with defaults applied. */
export interface ResolvedPluginOptions {
  module: PluginSource;
  maxMemory: number;
  fuelPerEvent: number;
  timePerEvent: number;
  config: Uint8Array;
  maxRestarts: number;
  restartWindow: number;
  restartDelay: number;
  log: ((level: LogLevel, message: string) => void) | undefined;
}

const KNOWN = new Set(['module', 'maxMemory', 'fuelPerEvent', 'timePerEvent', 'config', 'maxRestarts', 'restartWindow', 'restartDelay', 'log']);

function invalid(message: string): NbioError {
  return new NbioError('ERR_NBIO_INVALID_OPTION', `plugin.${message}`);
}

type IntegerOption = 'maxMemory' | 'fuelPerEvent' | 'timePerEvent' | 'maxRestarts' | 'restartWindow' | 'restartDelay';

function integer(options: PluginOptions, key: IntegerOption, fallback: number, min: number, max: number): number {
  const value = options[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${key} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Validates the `plugin` option; throws ERR_NBIO_INVALID_OPTION naming the offending field. */
export function resolvePluginOptions(options: unknown): ResolvedPluginOptions {
  if (options === null || typeof options !== 'object') {
    const hint = typeof options === 'string' || options instanceof URL ? `{ module: ${JSON.stringify(String(options))} }` : "{ module: './plugin.wasm' }";
    throw new NbioError('ERR_NBIO_INVALID_OPTION', `plugin must be an object naming the component and its limits, such as ${hint}; got ${options === null ? 'null' : typeof options}`);
  }
  const o = options as PluginOptions;
  for (const key of Object.keys(o)) if (!KNOWN.has(key)) throw invalid(`${key} is not an option`);
  const { module, config, log } = o;
  if (!(module instanceof Uint8Array || module instanceof URL || (typeof module === 'string' && module !== ''))) {
    throw invalid('module must be a path, a URL or the bytes of a plugin component');
  }
  if (config !== undefined && typeof config !== 'string' && !(config instanceof Uint8Array)) {
    throw invalid('config must be a string or a Uint8Array');
  }
  if (log !== undefined && typeof log !== 'function') throw invalid('log must be a function');
  return {
    module,
    maxMemory: integer(o, 'maxMemory', 16 * 1024 * 1024, PAGE, 4 * 1024 * 1024 * 1024 - PAGE),
    fuelPerEvent: integer(o, 'fuelPerEvent', 50_000_000, 1, 2 ** 31 - 1),
    timePerEvent: integer(o, 'timePerEvent', 5, 1, 60_000),
    // A copy: an instance re-created later gets what start() was given, whatever the caller does to its array.
    config: typeof config === 'string' ? new TextEncoder().encode(config) : Uint8Array.from(config ?? []),
    maxRestarts: integer(o, 'maxRestarts', 5, 0, 1_000_000),
    restartWindow: integer(o, 'restartWindow', 60_000, 1, 2 ** 31 - 1),
    restartDelay: integer(o, 'restartDelay', 100, 0, 60_000),
    log,
  };
}
