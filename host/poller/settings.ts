/** What a poller is set up with, taken from the engine's resolved options. */
import type { Transport } from '../api/address.js';
import type { ResolvedOptions } from '../api/resolve-options.js';

/** What a poller is set up with: its reactor's settings and how it treats connections. */
export type PollerSettings = Pick<
  ResolvedOptions,
  | 'readBufferSize' | 'maxWriteBufferSize' | 'maxConnReadTimesPerEventLoop' | 'noDelay' | 'maxMemory' | 'edgeTriggered'
  | 'allowHalfOpen' | 'lingerTimeout' | 'keepAlive' | 'keepAliveInitialDelay' | 'udpReadTimeout'
> & {
  /** What the engine's listeners carry (the transport of accepted connections). */
  transport: Transport;
};
