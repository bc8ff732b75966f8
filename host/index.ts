/**
 * nbio-wasm: a non-blocking network engine (TCP, UDP, Unix sockets) for Node.js. See README.md.
 */
export type { DialOptions, StopOptions } from './call-options.js';
export { Engine, type PluginErrorHandler } from './engine.js';
export { Conn } from './conn.js';
export type { ConnStream, ConnStreamOptions } from './conn-stream.js';
export { NbioError, type EngineError, type NbioErrorCode, type SystemError } from './errors.js';
export type { AddressInfo, Network, Transport } from './address.js';
export type {
  AcceptErrorHandler,
  CloseHandler,
  DataHandler,
  DrainHandler,
  EndHandler,
  EngineOptions,
  LoadBalancing,
  OpenHandler,
  StopHandler,
} from './options.js';
export type { PluginOptions } from './plugin/options.js';
export type { CloseMessage, EngineStats, OpenMessage, StatsOptions } from './stats.js';
export type { PluginStats } from './plugin/supervisor.js';
export type { LogLevel } from './plugin/instance.js';
