import { NbioError, systemError, withoutStack } from './errors.js';
import { CloseCause, FAILED_CALL } from './reactor.js';

/** The `err` given to onClose for a `closed` event's status and failed call. */
export function closeError(status: number, detail: number): Error | undefined {
  switch (status) {
    case CloseCause.PeerEnded:
      return withoutStack(() => new NbioError('ERR_NBIO_EOF', 'the peer closed the connection'));
    case CloseCause.WriteOverflow:
      return withoutStack(() => new NbioError('ERR_NBIO_WRITE_OVERFLOW', 'the write buffer would exceed maxWriteBufferSize'));
    case CloseCause.ReadTimeout:
      return withoutStack(() => new NbioError('ERR_NBIO_READ_TIMEOUT', 'the read deadline passed'));
    case CloseCause.WriteTimeout:
      return withoutStack(() => new NbioError('ERR_NBIO_WRITE_TIMEOUT', 'the write deadline passed with bytes still queued'));
    default:
      return status < 0 ? withoutStack(() => systemError(status, FAILED_CALL[detail] || 'close')) : undefined;
  }
}
