/**
 * Validation of the engine's options (ERR_NBIO_INVALID_OPTION naming the
 * field), their defaults, the handlers module, and the options a worker
 * poller is given.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAddress, parseNetwork, type Endpoint, type Network } from './address.js';
import { NbioError } from './errors.js';
import { checkKnownKeys } from './known-keys.js';
import { HANDLER_NAMES, type EngineOptions, type HandlerModule, type LoadBalancing } from './options.js';
import { resolvePluginOptions, type ResolvedPluginOptions } from './plugin-options.js';

/** Options after validation, with defaults applied. */
export interface ResolvedOptions {
  network: Network;
  addrs: Endpoint[];
  readBufferSize: number;
  maxWriteBufferSize: number;
  maxConnReadTimesPerEventLoop: number;
  maxMemory: number;
  noDelay: boolean;
  backlog: number;
  reusePort: boolean;
  edgeTriggered: boolean;
  allowHalfOpen: boolean;
  lingerTimeout: number;
  pausedHangUpTimeout: number;
  keepAlive: boolean;
  keepAliveInitialDelay: number;
  udpReadTimeout: number;
  loadBalancing: LoadBalancing;
  pollers: number;
  /** The `handlers` module as a URL string, if given. */
  handlers: string | undefined;
  plugin: ResolvedPluginOptions | undefined;
}

const KNOWN = new Set([
  'network', 'addrs', 'readBufferSize', 'maxWriteBufferSize', 'maxConnReadTimesPerEventLoop', 'maxMemory',
  'noDelay', 'backlog', 'reusePort', 'epollMode', 'allowHalfOpen', 'lingerTimeout', 'pausedHangUpTimeout', 'keepAlive', 'keepAliveInitialDelay',
  'udpReadTimeout', 'loadBalancing', 'pollers', 'handlers', 'plugin', ...HANDLER_NAMES,
]);

const LOAD_BALANCING: readonly LoadBalancing[] = ['reuseport', 'round-robin', 'least-connections', 'hash'];

/** Fallback listen backlog where /proc/sys/net/core/somaxconn cannot be read (Linux's default since 5.4). */
const FALLBACK_BACKLOG = 4096;
/** Largest delay of a timer (setTimeout's limit). */
const MAX_TIMEOUT_MS = 0x7fffffff;

let somaxconn: number | undefined;

/** The default listen backlog: the system's limit, as Go uses (read once per thread). */
function defaultBacklog(): number {
  if (somaxconn === undefined) {
    try {
      const n = Number.parseInt(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), 10);
      somaxconn = n > 0 ? Math.min(n, 0x7fffffff) : FALLBACK_BACKLOG;
    } catch {
      somaxconn = FALLBACK_BACKLOG;
    }
  }
  return somaxconn;
}

/** Largest `readBufferSize`: 16 MiB (the reactor's batch holds several reads of this size). */
const MAX_READ_BUFFER_SIZE = 16 * 1024 * 1024;

/** Default and bounds of `maxMemory`: 3.75 GiB; 1 MiB up to 4 GiB - 64 KiB (wasm32). */
const DEFAULT_MAX_MEMORY = 0xf000_0000;
const MIN_MAX_MEMORY = 1 << 20;
const MAX_MAX_MEMORY = 0xffff_0000;

/**
 * Validates options and applies defaults. Throws ERR_NBIO_INVALID_OPTION
 * (or ERR_NBIO_INVALID_ADDRESS for addresses) naming the offending field.
 */
export function resolveOptions(options: EngineOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', 'options must be an object');
  }
  checkKnownKeys(options, KNOWN, 'option');
  for (const key of HANDLER_NAMES) {
    const handler = options[key];
    if (handler !== undefined && typeof handler !== 'function') {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', `${key} must be a function`);
    }
  }
  const handlers = handlerModule(options);
  const pollers = integer(options, 'pollers', 1, 1, 64);
  const plugin = options.plugin === undefined ? undefined : resolvePluginOptions(options.plugin);
  if (plugin !== undefined && options.onData !== undefined) {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', 'onData cannot be set with a plugin: the plugin handles the data');
  }
  if (pollers > 1 && plugin !== undefined && HANDLER_NAMES.some((key) => options[key] !== undefined)) {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', 'pollers > 1 takes handlers from a handlers module: functions cannot be shared between threads');
  }
  if (pollers > 1 && handlers === undefined && plugin === undefined) {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', 'pollers > 1 needs a handlers module: functions cannot be shared between threads');
  }
  const network = parseNetwork(options.network ?? 'tcp', 'ERR_NBIO_INVALID_OPTION', 'the network option');
  const addrs = options.addrs ?? [];
  if (!Array.isArray(addrs)) throw new NbioError('ERR_NBIO_INVALID_OPTION', 'addrs must be an array of strings');
  const noDelay = boolean(options, 'noDelay', true);
  const reusePort = boolean(options, 'reusePort', false);
  const allowHalfOpen = boolean(options, 'allowHalfOpen', false);
  if (allowHalfOpen && plugin !== undefined) {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', 'allowHalfOpen cannot be used with a plugin: plugins are not told when the peer ends its side');
  }
  const epollMode = oneOf(options, 'epollMode', ['lt', 'et'] as const, 'lt');
  const loadBalancing = oneOf(options, 'loadBalancing', LOAD_BALANCING, 'round-robin');
  if (pollers > 1 && loadBalancing === 'reuseport' && network === 'unix') {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', 'loadBalancing "reuseport" needs TCP: Unix sockets cannot share a path');
  }
  // Every poller listens itself with 'reuseport', and always on UDP.
  const sharedListeners = pollers > 1 && (loadBalancing === 'reuseport' || network.startsWith('udp'));
  return {
    network,
    addrs: addrs.map((a) => parseAddress(network, a, 'listen')),
    readBufferSize: integer(options, 'readBufferSize', 65536, 1, MAX_READ_BUFFER_SIZE),
    maxWriteBufferSize: integer(options, 'maxWriteBufferSize', 0, 0, 0xffffffff),
    maxConnReadTimesPerEventLoop: integer(options, 'maxConnReadTimesPerEventLoop', 3, 1, 1 << 20),
    maxMemory: integer(options, 'maxMemory', DEFAULT_MAX_MEMORY, MIN_MAX_MEMORY, MAX_MAX_MEMORY),
    noDelay,
    backlog: integer(options, 'backlog', defaultBacklog(), 1, 0x7fffffff),
    reusePort: reusePort || sharedListeners,
    edgeTriggered: epollMode === 'et',
    allowHalfOpen,
    lingerTimeout: integer(options, 'lingerTimeout', 5000, 0, MAX_TIMEOUT_MS),
    pausedHangUpTimeout: integer(options, 'pausedHangUpTimeout', 30_000, 0, MAX_TIMEOUT_MS),
    keepAlive: boolean(options, 'keepAlive', false),
    keepAliveInitialDelay: integer(options, 'keepAliveInitialDelay', 0, 0, MAX_TIMEOUT_MS),
    udpReadTimeout: integer(options, 'udpReadTimeout', 0, 0, MAX_TIMEOUT_MS),
    loadBalancing,
    pollers,
    handlers,
    plugin,
  };
}

/** An option that takes one of a few strings. */
function oneOf<T extends string>(options: EngineOptions, key: 'epollMode' | 'loadBalancing', values: readonly T[], fallback: T): T {
  const value = options[key] ?? fallback;
  if (!(values as readonly unknown[]).includes(value)) {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', `${key} must be one of ${values.map((v) => `'${v}'`).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function boolean(options: EngineOptions, key: 'noDelay' | 'reusePort' | 'allowHalfOpen' | 'keepAlive', fallback: boolean): boolean {
  const value = options[key] ?? fallback;
  if (typeof value !== 'boolean') throw new NbioError('ERR_NBIO_INVALID_OPTION', `${key} must be a boolean`);
  return value;
}

type NumericOption =
  | 'readBufferSize' | 'maxWriteBufferSize' | 'maxConnReadTimesPerEventLoop' | 'maxMemory' | 'backlog' | 'pollers'
  | 'keepAliveInitialDelay' | 'udpReadTimeout' | 'lingerTimeout' | 'pausedHangUpTimeout';

/** The `handlers` option as a URL string; rejects it next to handler functions. */
function handlerModule(options: EngineOptions): string | undefined {
  const { handlers } = options;
  if (handlers === undefined) return undefined;
  if (HANDLER_NAMES.some((key) => options[key] !== undefined)) {
    throw new NbioError('ERR_NBIO_INVALID_OPTION', 'give handlers either as functions or as a handlers module, not both');
  }
  if (handlers instanceof URL) return handlers.href;
  if (typeof handlers === 'string' && isAbsolute(handlers)) return pathToFileURL(handlers).href;
  if (typeof handlers === 'string' && URL.canParse(handlers)) return handlers;
  throw new NbioError('ERR_NBIO_INVALID_OPTION', 'handlers must be an absolute module path or a URL');
}

function integer(options: EngineOptions, key: NumericOption, fallback: number, min: number, max: number): number {
  const value = options[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new NbioError(
      'ERR_NBIO_INVALID_OPTION',
      `${key} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}

/** Returns `handler`; throws ERR_NBIO_INVALID_OPTION naming it unless it is a function. */
export function checkHandler<T>(name: string, handler: T): T {
  if (typeof handler !== 'function') throw new NbioError('ERR_NBIO_INVALID_OPTION', `${name} must be a function`);
  return handler;
}

/**
 * Loads a `handlers` module. It may export only handlers (by their names),
 * each a function; anything else it exports is refused with
 * ERR_NBIO_INVALID_OPTION, like an unknown engine option.
 */
export async function loadHandlers(href: string): Promise<HandlerModule> {
  const mod = (await import(href)) as Record<string, unknown>;
  for (const name of Object.keys(mod)) {
    if (!(HANDLER_NAMES as readonly string[]).includes(name)) {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', `${href} exports "${name}", which is not a handler (expected ${HANDLER_NAMES.join(', ')})`);
    }
    checkHandler(`${name} of ${href}`, mod[name]);
  }
  return mod as HandlerModule;
}

/**
 * The options of a worker poller of an engine with `options` (plain data,
 * for a worker thread): the same settings, listening on `addrs` (none
 * when the engine's thread accepts and hands connections over).
 */
export function workerOptions(o: ResolvedOptions, addrs: string[]): EngineOptions {
  const { network, readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, maxMemory, noDelay, backlog, handlers, plugin } = o;
  return {
    network, addrs, readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, maxMemory, noDelay, backlog,
    reusePort: o.reusePort, epollMode: o.edgeTriggered ? 'et' : 'lt', allowHalfOpen: o.allowHalfOpen, lingerTimeout: o.lingerTimeout,
    pausedHangUpTimeout: o.pausedHangUpTimeout, keepAlive: o.keepAlive, keepAliveInitialDelay: o.keepAliveInitialDelay, udpReadTimeout: o.udpReadTimeout,
    handlers,
    // (A URL object would reach the thread as an empty object, so its text goes; a function cannot go.)
    plugin: plugin === undefined ? undefined
      : { ...plugin, module: plugin.module instanceof URL ? plugin.module.href : plugin.module, log: undefined },
  };
}
