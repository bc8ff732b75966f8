/**
 * What each close cause is called: the name a `closed` status goes by in
 * `stats().closedBy`, the `conn.closeReason` it gives, and, for the causes
 * that are failures, the `code` and message of the `NbioError` onClose is
 * given. The one table all three read; the numbers are the causes' own (the
 * WIT's `close-cause` and the host's, in host/guest/reactor.ts).
 */
import { CloseCause } from '../guest/reactor.js';
import type { CloseReason } from './conn-state.js';
import type { NbioErrorCode } from './errors.js';

/**
 * A cause's name, its `closeReason`, and for a failure the sentence its
 * error says: an orderly close (`local`, `peer`) has no message, nor has a
 * dial timeout (the dial rejects with its own, naming the target, and its
 * connection is never the application's).
 */
export type CloseCauseName =
  | { readonly name: OrderlyReason; readonly reason: OrderlyReason; readonly message?: undefined }
  | { readonly name: NbioErrorCode; readonly reason: Exclude<CloseReason, OrderlyReason>; readonly message?: string };

/** The reasons of an orderly close, with no error. */
type OrderlyReason = Extract<CloseReason, 'local' | 'peer'>;

/** One entry per close cause, the reactor's and the host's. */
const CLOSE_CAUSE_NAMES: { readonly [K in keyof typeof CloseCause]: CloseCauseName } = {
  Local: { name: 'local', reason: 'local' },
  PeerEnded: { name: 'peer', reason: 'peer' },
  WriteOverflow: { name: 'ERR_NBIO_WRITE_OVERFLOW', reason: 'error', message: 'the write buffer would exceed maxWriteBufferSize' },
  DialTimeout: { name: 'ERR_NBIO_DIAL_TIMEOUT', reason: 'timeout' },
  ReadTimeout: { name: 'ERR_NBIO_READ_TIMEOUT', reason: 'timeout', message: 'the read deadline passed' },
  WriteTimeout: { name: 'ERR_NBIO_WRITE_TIMEOUT', reason: 'timeout', message: 'the write deadline passed with bytes still queued' },
  PausedHangUp: {
    name: 'ERR_NBIO_PAUSED_TIMEOUT',
    reason: 'timeout',
    message: 'the peer hung up while the connection was paused, and it stayed paused for pausedHangUpTimeout: closed, what the kernel held unread dropped',
  },
};

/** {@link CLOSE_CAUSE_NAMES} by the cause's number (a `closed` event's status). */
const BY_STATUS: ReadonlyMap<number, CloseCauseName> = new Map(
  Object.entries(CLOSE_CAUSE_NAMES).map(([key, entry]) => [CloseCause[key as keyof typeof CloseCause], entry]),
);

/** The entry of a `closed` status that is a close cause; undefined for an errno (< 0) or a number no cause has. */
export function closeCauseName(status: number): CloseCauseName | undefined {
  return BY_STATUS.get(status);
}
