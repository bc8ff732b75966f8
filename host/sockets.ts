import type { AddressInfo, ResolvedEndpoint } from './address.js';
import { systemError } from './errors.js';
import { ERRNO, LISTEN, native } from './native.js';

/**
 * Creates a listening socket for `ep` (non-blocking, close-on-exec;
 * SO_REUSEPORT when `reusePort`). "All interfaces" on a machine without
 * IPv6 falls back to IPv4. Throws a system error (EADDRINUSE…) with
 * syscall 'listen'.
 */
export function listen(ep: ResolvedEndpoint, backlog: number, reusePort: boolean): number {
  const shared = reusePort ? LISTEN.REUSEPORT : 0;
  let fd = native.listen(ep.family, ep.ip, ep.port, backlog, (ep.v6only ? LISTEN.V6ONLY : 0) | shared);
  if (fd === -ERRNO.EAFNOSUPPORT && ep.ip === '::' && !ep.v6only) {
    fd = native.listen(4, '0.0.0.0', ep.port, backlog, shared);
  }
  if (fd < 0) throw systemError(fd, 'listen', ep.ip, ep.port);
  return fd;
}

/** A socket's local or peer address, or undefined if it has none (closed, not connected). */
export function sockAddress(fd: number, side: 'local' | 'remote'): AddressInfo | undefined {
  const found = side === 'local' ? native.getsockname(fd) : native.getpeername(fd);
  if (typeof found === 'number') return undefined;
  return { address: found.address, port: found.port, family: found.family === 6 ? 'IPv6' : 'IPv4' };
}
