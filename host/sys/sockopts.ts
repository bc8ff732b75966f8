/**
 * Socket options a connection can set (`setNoDelay`, keep-alive, linger,
 * buffer sizes), through the native shim.
 */
import type { Transport } from '../api/address.js';
import type { SocketOption } from '../api/conn.js';
import { systemError } from '../api/errors.js';
import { SOCKOPT, native } from './native.js';

/** Options only TCP has: on other sockets setting them does nothing (as Node's do for pipes). */
const TCP_ONLY: ReadonlySet<SocketOption> = new Set(['noDelay', 'keepAlive', 'keepAliveDelay']);

/**
 * Sets `option` to `value` on the socket `fd` carrying `transport`:
 * noDelay and keepAlive 0/1, keepAliveDelay in seconds, linger in seconds
 * (-1: off), buffer sizes in bytes. Throws a system error (syscall
 * 'setsockopt') if the kernel refuses.
 */
export function setSocketOption(fd: number, transport: Transport, option: SocketOption, value: number): void {
  if (transport !== 'tcp' && TCP_ONLY.has(option)) return;
  const { SOL_SOCKET, IPPROTO_TCP } = SOCKOPT;
  let rc: number;
  switch (option) {
    case 'noDelay':
      rc = native.setNoDelay(fd, value);
      break;
    case 'keepAlive':
      rc = native.setSockOpt(fd, SOL_SOCKET, SOCKOPT.SO_KEEPALIVE, value);
      break;
    case 'keepAliveDelay':
      rc = native.setSockOpt(fd, IPPROTO_TCP, SOCKOPT.TCP_KEEPIDLE, value);
      break;
    case 'linger':
      rc = native.setLinger(fd, value < 0 ? 0 : 1, Math.max(value, 0));
      break;
    case 'readBufferSize':
      rc = native.setSockOpt(fd, SOL_SOCKET, SOCKOPT.SO_RCVBUF, value);
      break;
    case 'writeBufferSize':
      rc = native.setSockOpt(fd, SOL_SOCKET, SOCKOPT.SO_SNDBUF, value);
      break;
  }
  if (rc < 0) throw systemError(rc, 'setsockopt');
}
