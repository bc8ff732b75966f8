/**
 * The errors a `closed` event's status becomes in `onClose` (and a failed
 * dial's rejection): errno values as system errors naming their call, the
 * reactor's and the host's causes as `NbioError`s.
 */
import { NbioError, systemError, withoutStack, type EngineError } from '../api/errors.js';
import type { CloseReason } from '../api/conn.js';
import { describeEndpoint, type ResolvedEndpoint } from '../api/address.js';
import { FailedCall } from '../generated/abi.js';
import { CloseCause } from '../guest/reactor.js';
import { closeCauseName } from '../api/close-causes.js';

/** The system call each `failed-call` names, as errors report it (`syscall`); one per case of the WIT's enum. */
const SYSCALL_NAMES: { readonly [K in keyof typeof FailedCall]: string } = {
  None: '',
  Read: 'read',
  Write: 'write',
  Connect: 'connect',
  EpollCtl: 'epoll_ctl',
  Shutdown: 'shutdown',
  SendTo: 'sendto',
  RecvFrom: 'recvfrom',
};

/** {@link SYSCALL_NAMES} by the enum's number (a `closed` event's `detail`). */
const FAILED_CALL: readonly string[] = Object.entries(FailedCall).reduce<string[]>((names, [name, n]) => {
  names[n] = SYSCALL_NAMES[name as keyof typeof FailedCall];
  return names;
}, []);

/**
 * The `err` given to onClose for a `closed` event's status and failed call:
 * undefined for an orderly close by either side (this side closed it, or
 * the peer ended its side first), the failure otherwise.
 */
export function closeError(status: number, detail: number): EngineError | undefined {
  const cause = closeCauseName(status);
  if (cause?.message !== undefined) {
    const { name, message } = cause;
    return withoutStack(() => new NbioError(name, message));
  }
  return status < 0 ? withoutStack(() => systemError(status, FAILED_CALL[detail] || 'close')) : undefined;
}

/**
 * What `conn.closeReason` says for a `closed` event's status: its cause's
 * (host/api/close-causes.ts), `error` for an errno.
 */
export function closeReasonOf(status: number): CloseReason {
  return closeCauseName(status)?.reason ?? (status < 0 ? 'error' : 'local');
}

/**
 * The error a dial (or an adoption: `target` undefined) rejects with when
 * its connection closed before it opened: the dial timed out, the connect
 * failed (a system error), or the engine stopped (`running` false) or
 * closed it.
 */
export function dialError(status: number, detail: number, target: ResolvedEndpoint | undefined, running: boolean): Error {
  const what = target === undefined ? 'the added connection' : `dial ${describeEndpoint(target)}`;
  if (status === CloseCause.DialTimeout) return new NbioError('ERR_NBIO_DIAL_TIMEOUT', `${what} timed out`);
  if (status < 0) {
    const syscall = FAILED_CALL[detail] || 'connect';
    if (target === undefined) return systemError(status, syscall);
    return 'path' in target ? systemError(status, syscall, target.path) : systemError(status, syscall, target.ip, target.port);
  }
  if (status === CloseCause.Local && !running) return new NbioError('ERR_NBIO_NOT_RUNNING', 'the engine stopped');
  return new NbioError('ERR_NBIO_CLOSED', `${what}: the connection closed before it opened`);
}
