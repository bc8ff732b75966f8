/**
 * What `new Engine(options)` takes: the options, the handlers (as
 * functions or as a module of them), and their documented contracts.
 * Their validation is host/api/resolve-options.ts.
 */
import type { Network } from './address.js';
import type { Conn } from './conn.js';
import type { EngineError } from './errors.js';
import type { PluginOptions } from './plugin-options.js';

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
 * undefined for an orderly close by either side: this side closed it
 * (`conn.close()`, `conn.end()`, `engine.stop()`) or the peer ended its
 * side first; `conn.closeReason` tells them apart (`'local'`, `'peer'`).
 * Otherwise `err` is the failure: ERR_NBIO_WRITE_OVERFLOW,
 * ERR_NBIO_READ_TIMEOUT, ERR_NBIO_WRITE_TIMEOUT, a system error such as
 * ECONNRESET, or the engine's or a plugin's failure.
 */
export type CloseHandler = (conn: Conn, err: EngineError | undefined) => void;
/**
 * Called when the peer ended its side of a connection (it will send no
 * more), after the connection's last `onData`. Without `allowHalfOpen` the
 * engine then ends this side too: what is queued is still sent, then the
 * connection closes (`onClose` with `err` undefined, `closeReason` `'peer'`) and writes from here on
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
  /**
   * Most ms a paused connection (`conn.pause()`, or paused by a plugin)
   * keeps its descriptor once its peer has hung up or it failed: if it is
   * still paused then, the engine closes it, dropping what the kernel
   * still holds unread, and `onClose` receives ERR_NBIO_PAUSED_TIMEOUT
   * (after the bytes already read, once it is resumed, as any close of a
   * paused connection). Resuming before then delivers everything and the
   * close as usual. 0: at once. Default 30000.
   */
  pausedHangUpTimeout?: number;
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
