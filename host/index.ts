/**
 * nbio-wasm: a non-blocking network engine (TCP, UDP, Unix sockets) for
 * Node.js (README.md). This file is the package's entry: the public API,
 * gathered from the layers below (host/README.md).
 */
import type { Conn } from './api/conn.js';
import type { ConnStream as StreamOf } from './api/conn-stream.js';

export type { DialOptions, StopOptions } from './api/call-options.js';
export { Engine, type PluginErrorHandler } from './engine/engine.js';
export { Conn, type CloseReason, type FileSource, type SendFileOptions } from './api/conn.js';
export type { ConnStreamOptions } from './api/conn-stream.js';
/** A connection as a `stream.Duplex`: what `conn.toStream()` returns (host/api/conn-stream.ts). */
export type ConnStream = StreamOf<Conn>;
export { NbioError, type EngineError, type NbioErrorCode, type SystemError } from './api/errors.js';
export type { AddressInfo, Network, Transport } from './api/address.js';
export type { AcceptErrorHandler, CloseHandler, DataHandler, DrainHandler, EndHandler, EngineOptions, LoadBalancing, OpenHandler, StopHandler } from './api/options.js';
export type { PluginOptions } from './api/plugin-options.js';
export type { CloseMessage, EngineStats, OpenMessage, StatsOptions } from './api/stats.js';
export type { PluginStats } from './plugin/supervisor.js';
export type { LogLevel } from './api/plugin-options.js';
