import { parseAddress, parseNetwork, type Endpoint, type Network } from './address.js';
import type { Conn } from './conn.js';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NbioError, type EngineError } from './errors.js';
import { resolvePluginOptions, type PluginOptions, type ResolvedPluginOptions } from './plugin/options.js';

/** Called once a connection is registered, before any of its data. */
export type OpenHandler = (conn: Conn) => void;
/**
 * Called with each chunk of bytes that arrived. `data` is a view into the
 * engine's read buffer, valid only until the handler returns: copy it to
 * keep it (`conn.write(data)` inside the handler needs no copy; writing a
 * kept view later throws ERR_NBIO_STALE_VIEW). A write that makes the
 * engine grow its memory empties the view (writing `data` itself still
 * works): read it before such a write.
 */
export type DataHandler = (conn: Conn, data: Uint8Array) => void;
/**
 * Called exactly once per opened connection, after its last data. `err` is
 * undefined when this side closed it (`conn.close()`, `conn.end()`,
 * `engine.stop()`); otherwise the cause: ERR_NBIO_EOF (peer closed),
 * ERR_NBIO_WRITE_OVERFLOW, ERR_NBIO_READ_TIMEOUT, ERR_NBIO_WRITE_TIMEOUT, or
 * a system error such as ECONNRESET.
 */
export type CloseHandler = (conn: Conn, err: EngineError | undefined) => void;
/**
 * Called when the peer ended its side of a connection (it will send no
 * more), after the connection's last `onData`. Without `allowHalfOpen` the
 * engine then ends this side too: what is queued is still sent, then the
 * connection closes (`onClose` with ERR_NBIO_EOF) and writes from here on
 * throw ERR_NBIO_CLOSED. With `allowHalfOpen` the connection stays open
 * for writing until this side calls `end()`, `closeWrite()` or `close()`.
 */
export type EndHandler = (conn: Conn) => void;
/**
 * Called when a connection's write buffer became empty again: every byte
 * written so far was taken by the kernel. Pair it with
 * `conn.bufferedAmount` to stop producing while a peer is slow.
 */
export type DrainHandler = (conn: Conn) => void;
/** Called once by `stop()` of a started engine, after every connection's `onClose`. */
export type StopHandler = () => void;
/**
 * Called when accepting a connection failed (EMFILE, ENFILE, ENOMEM…). The
 * listener pauses for 50 ms and then accepts again; waiting connections stay
 * in the kernel's backlog meanwhile.
 */
export type AcceptErrorHandler = (err: Error) => void;

/**
 * Called when the engine itself fails, instead of failing silently: a
 * poller's epoll descriptor reported an error or `epoll_wait` failed
 * (ERR_NBIO_POLLER_FAILED: the engine closed everything and stopped), the
 * reactor trapped (ERR_NBIO_REACTOR_FAULT: the same), or a poller thread
 * died (ERR_NBIO_POLLER_FAILED: its connections were closed, the other
 * pollers go on). `err.cause` says why. Without it, the error is emitted
 * as a process warning.
 */
export type ErrorHandler = (err: Error) => void;

/** The handlers, by name: as options, or as the exports of a `handlers` module. */
export interface HandlerModule {
  onOpen?: OpenHandler;
  onData?: DataHandler;
  onClose?: CloseHandler;
  onEnd?: EndHandler;
  onDrain?: DrainHandler;
  onStop?: StopHandler;
  onAcceptError?: AcceptErrorHandler;
  onError?: ErrorHandler;
}

/** How an engine with several pollers spreads connections over them. */
export type LoadBalancing = 'reuseport' | 'round-robin' | 'least-connections' | 'hash';

/** Options of `new Engine(options)`. Every field is optional. */
export interface EngineOptions extends HandlerModule {
  /**
   * 'tcp' (IPv4 and IPv6), 'tcp4', 'tcp6', 'udp', 'udp4', 'udp6' or 'unix'
   * (stream sockets). Default 'tcp'.
   */
  network?: Network;
  /**
   * Addresses to listen on, as 'host:port', '[ipv6]:port' or ':port' (all
   * interfaces); port 0 lets the kernel choose. For 'unix', socket paths
   * ('@name': a Linux abstract name, no file). Default none: a client-only
   * engine that only dials.
   */
  addrs?: string[];
  /** Largest single read in bytes, so the most one `onData` call carries. Default 65536. */
  readBufferSize?: number;
  /**
   * Most bytes a connection may keep queued for a peer that does not read
   * fast enough; a write that would queue more closes the connection with
   * ERR_NBIO_WRITE_OVERFLOW. Default 0: no limit.
   */
  maxWriteBufferSize?: number;
  /** Most reads per connection per readiness report, for fairness between connections. Default 3. */
  maxConnReadTimesPerEventLoop?: number;
  /**
   * Most bytes the reactor's WebAssembly memory (each poller's) may grow
   * to: its connection table, read batch and every queued write. A write
   * that would need more closes its connection with
   * ERR_NBIO_WRITE_OVERFLOW; an accept that would, pauses the listener
   * (onAcceptError with ENOMEM). The engine keeps serving the others.
   * Default 3.75 GiB (4026531840), the most wasm32 allows with room to
   * spare; at least 1 MiB.
   */
  maxMemory?: number;
  /** Set TCP_NODELAY on every connection (accepted or dialed). Default true. */
  noDelay?: boolean;
  /**
   * Listen backlog (pending connections the kernel queues). Default: the
   * system's limit (`/proc/sys/net/core/somaxconn`, 4096 on recent Linux),
   * as Go does.
   */
  backlog?: number;
  /**
   * 'lt' (level-triggered, the default) or 'et' (edge-triggered: a
   * connection is read until its socket is empty, so
   * `maxConnReadTimesPerEventLoop` does not apply, and write interest is
   * registered once). Handlers see the same events either way.
   */
  epollMode?: 'lt' | 'et';
  /**
   * When the peer ends its side of a connection, keep this side open for
   * writing (`onEnd` is called; end it with `conn.end()`). Default false:
   * the engine sends what is queued and closes, as `node:net` does.
   */
  allowHalfOpen?: boolean;
  /**
   * Most ms a connection this side ended (`conn.end()`, a graceful `stop()`)
   * waits, everything sent and its FIN out, for the peer's end (data still
   * delivered); it then closes without a reset. 0: at once. Default 5000
   * (nginx's `lingering_timeout`; see README, "Closing").
   */
  lingerTimeout?: number;
  /** Turn TCP keep-alive on for every connection (`conn.setKeepAlive`). Default false. */
  keepAlive?: boolean;
  /** With `keepAlive`: ms of idleness before the first probe (0: the system's). Default 0. */
  keepAliveInitialDelay?: number;
  /**
   * UDP: close a peer that has sent nothing for this many ms, with
   * ERR_NBIO_READ_TIMEOUT. Default 0: peers live until closed or the
   * engine stops.
   */
  udpReadTimeout?: number;
  /**
   * With `pollers` > 1, how connections are spread over the pollers:
   * 'round-robin' (the default), 'least-connections' (to the poller with
   * the fewest) or 'hash' (by descriptor number, nbio's `fd % pollers`):
   * the engine's thread accepts and hands each connection to a poller;
   * 'reuseport': every poller listens (SO_REUSEPORT) and the kernel spreads
   * connections by address hash (TCP only). UDP sockets are always shared
   * with SO_REUSEPORT, so a peer's datagrams always reach the same poller.
   */
  loadBalancing?: LoadBalancing;
  /**
   * Listen with SO_REUSEPORT, so that several engines (in worker threads or
   * processes) can listen on the same port; the kernel spreads incoming
   * connections over them. Default false.
   */
  reusePort?: boolean;
  /**
   * Pollers: threads that serve connections, each with its own reactor.
   * With N > 1 the engine runs one poller on its own thread and N - 1 in
   * worker threads; `loadBalancing` says how connections are spread over
   * them. Handlers must then come from a `handlers` module, loaded in every
   * poller. Default 1.
   */
  pollers?: number;
  /**
   * A module (absolute path or URL) that exports the handlers by name
   * (`onOpen`, `onData`, `onClose`, `onEnd`, `onDrain`, `onStop`, `onAcceptError`, `onError`),
   * instead of setting them as functions. Required with `pollers` > 1.
   */
  handlers?: string | URL;
  /**
   * A WebAssembly plugin that handles every connection of the engine (see
   * README, "Plugins"); `onData` cannot be set with it, the other handlers
   * still observe the connections.
   */
  plugin?: PluginOptions;
}


/** The handler names, as options, methods and `handlers` module exports. */
export const HANDLER_NAMES = ['onOpen', 'onData', 'onClose', 'onEnd', 'onDrain', 'onStop', 'onAcceptError', 'onError'] as const;

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
  'noDelay', 'backlog', 'reusePort', 'epollMode', 'allowHalfOpen', 'lingerTimeout', 'keepAlive', 'keepAliveInitialDelay',
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
export const DEFAULT_MAX_MEMORY = 0xf000_0000;
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
  const network = parseNetwork(options.network ?? 'tcp');
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

/** Throws ERR_NBIO_INVALID_OPTION naming the first key of `object` not in `known` (`what`: "option", "dial option"…). */
export function checkKnownKeys(object: object, known: ReadonlySet<string>, what: string): void {
  if (object === null || typeof object !== 'object') throw new NbioError('ERR_NBIO_INVALID_OPTION', `${what}s must be an object`);
  for (const key of Object.keys(object)) {
    if (!known.has(key)) throw new NbioError('ERR_NBIO_INVALID_OPTION', `unknown ${what} "${key}"`);
  }
}

function boolean(options: EngineOptions, key: 'noDelay' | 'reusePort' | 'allowHalfOpen' | 'keepAlive', fallback: boolean): boolean {
  const value = options[key] ?? fallback;
  if (typeof value !== 'boolean') throw new NbioError('ERR_NBIO_INVALID_OPTION', `${key} must be a boolean`);
  return value;
}

type NumericOption =
  | 'readBufferSize' | 'maxWriteBufferSize' | 'maxConnReadTimesPerEventLoop' | 'maxMemory' | 'backlog' | 'pollers'
  | 'keepAliveInitialDelay' | 'udpReadTimeout' | 'lingerTimeout';

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
    keepAlive: o.keepAlive, keepAliveInitialDelay: o.keepAliveInitialDelay, udpReadTimeout: o.udpReadTimeout,
    handlers,
    // (A URL object would reach the thread as an empty object, so its text goes; a function cannot go.)
    plugin: plugin === undefined ? undefined
      : { ...plugin, module: plugin.module instanceof URL ? plugin.module.href : plugin.module, log: undefined },
  };
}
