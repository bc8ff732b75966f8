/**
 * nbio-wasm: a non-blocking TCP engine for Node.js. See README.md.
 */
export { Engine, type DialOptions } from './engine.js';
export { Conn } from './conn.js';
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
