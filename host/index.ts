/**
 * nbio-wasm: a non-blocking TCP engine for Node.js. See README.md.
 */
export { Engine, type DialOptions, type PluginErrorHandler } from './engine.js';
export { Conn } from './conn.js';
export type { ConnStream, ConnStreamOptions } from './conn-stream.js';
export { NbioError, type EngineError, type NbioErrorCode, type SystemError } from './errors.js';
export type { AddressInfo, Network } from './address.js';
export type {
  AcceptErrorHandler,
  CloseHandler,
  DataHandler,
  DrainHandler,
  EngineOptions,
  OpenHandler,
  StopHandler,
} from './options.js';
export type { PluginOptions } from './plugin/options.js';
export type { CloseMessage, EngineStats, OpenMessage } from './stats.js';
export type { PluginStats } from './plugin/supervisor.js';
export type { LogLevel } from './plugin/instance.js';
