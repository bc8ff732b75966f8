/**
 * What a poller is set up with, taken from the engine's resolved options,
 * and how a socket handed to it is connected.
 */
import type { ResolvedEndpoint, Transport } from '../api/address.js';
import type { ResolvedOptions } from '../api/resolve-options.js';

/** What a poller is set up with: its reactor's settings and how it treats connections. */
export type PollerSettings = Pick<
  ResolvedOptions,
  | 'readBufferSize' | 'maxWriteBufferSize' | 'maxConnReadTimesPerEventLoop' | 'noDelay' | 'maxMemory' | 'edgeTriggered'
  | 'allowHalfOpen' | 'lingerTimeout' | 'pausedHangUpTimeout' | 'keepAlive' | 'keepAliveInitialDelay' | 'udpReadTimeout'
> & {
  /** What the engine's listeners carry (the transport of accepted connections). */
  transport: Transport;
};

/** How a descriptor handed to `Poller.adopt` is connected. */
export interface Adoption {
  transport: Transport;
  /** A TCP connect still in progress: opened once it completes. */
  connecting: boolean;
  /** With `connecting`: ms before the dial gives up (ERR_NBIO_DIAL_TIMEOUT); 0: no limit. */
  timeout: number;
  /** Where it was dialed (for error messages; a dial counts in `dialed`); undefined for an adopted socket (`added`). */
  target: ResolvedEndpoint | undefined;
  /** Bytes the socket had received before it was handed over, delivered first. */
  buffered?: Uint8Array[];
}
