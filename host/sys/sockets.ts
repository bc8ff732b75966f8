/**
 * Sockets made and taken over outside the reactor: listening (TCP, UDP,
 * Unix), connecting, detaching a `net.Socket` from libuv, and their
 * addresses.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { type AddressInfo, type ResolvedEndpoint, type ResolvedIp, type Transport } from '../api/address.js';
import { NbioError, systemError } from '../api/errors.js';
import { ERRNO, LISTEN, native } from './native.js';

/** A listening socket made for an engine, and what `stop()` must remove with it. */
export interface Listening {
  fd: number;
  /** A Unix socket's file (not for abstract names): removed when the engine stops. */
  file: SocketFile | undefined;
}

/** A socket file bound by the engine, identified by its inode. */
export interface SocketFile {
  path: string;
  ino: bigint;
}

/**
 * Creates the listening socket for `ep`: a TCP or Unix stream listener, or
 * a bound UDP socket (non-blocking, close-on-exec; SO_REUSEPORT when
 * `reusePort`). "All interfaces" on a machine without IPv6 falls back to
 * IPv4. A Unix path whose file is left by a dead server (nothing accepts
 * there) is replaced; one where a server listens gives EADDRINUSE. Throws a
 * system error (EADDRINUSE…) with syscall 'listen' (or 'bind' for UDP).
 */
export function listen(transport: Transport, ep: ResolvedEndpoint, backlog: number, reusePort: boolean): Listening {
  if ('path' in ep) return listenUnix(ep.path, backlog);
  const shared = reusePort ? LISTEN.REUSEPORT : 0;
  const open = (family: 4 | 6, ip: string, flags: number) =>
    transport === 'udp' ? native.udpSocket(family, ip, ep.port, flags, 0) : native.listen(family, ip, ep.port, backlog, flags);
  let fd = open(ep.family, ep.ip, (ep.v6only ? LISTEN.V6ONLY : 0) | shared);
  if (fd === -ERRNO.EAFNOSUPPORT && ep.ip === '::' && !ep.v6only) fd = open(4, '0.0.0.0', shared);
  if (fd < 0) throw systemError(fd, transport === 'udp' ? 'bind' : 'listen', ep.ip, ep.port);
  return { fd, file: undefined };
}

function listenUnix(path: string, backlog: number): Listening {
  let fd = native.listenUnix(path, backlog);
  if (fd === -ERRNO.EADDRINUSE && !path.startsWith('@') && isStale(path)) {
    unlinkSync(path);
    fd = native.listenUnix(path, backlog);
  }
  if (fd < 0) throw systemError(fd, 'listen', path);
  return { fd, file: path.startsWith('@') ? undefined : { path, ino: lstatSync(path, { bigint: true }).ino } };
}

/** Whether `path` is a socket file nobody accepts on any more (its server died). */
function isStale(path: string): boolean {
  let socket = false;
  try {
    socket = lstatSync(path).isSocket();
  } catch {
    return false;
  }
  if (!socket) return false;
  const fd = native.connectUnix(path);
  if (fd >= 0) native.close(fd);
  return fd === -ERRNO.ECONNREFUSED;
}

/** Removes a socket file the engine bound, unless it was replaced since (another server's now). */
export function removeSocketFile(file: SocketFile): void {
  try {
    if (lstatSync(file.path, { bigint: true }).ino === file.ino) unlinkSync(file.path);
  } catch {
    // Already gone.
  }
}

/**
 * Starts a connection to `target`: a non-blocking TCP connect (in
 * progress), a Unix connect (done at once) or a connected UDP socket.
 * Returns the descriptor, or throws a system error (ECONNREFUSED,
 * ENOENT…) with syscall 'connect'.
 */
export function connect(transport: Transport, target: ResolvedEndpoint): number {
  let fd: number;
  if ('path' in target) fd = native.connectUnix(target.path);
  else if (transport === 'udp') fd = native.udpSocket(target.family, target.ip, target.port, 0, 1);
  else fd = native.connect(target.family, target.ip, target.port);
  if (fd < 0) throw connectError(fd, target);
  return fd;
}

/** The error of a connect to `target` that failed with `errno`. */
function connectError(errno: number, target: ResolvedEndpoint): Error {
  return 'path' in target ? systemError(errno, 'connect', target.path) : systemError(errno, 'connect', (target as ResolvedIp).ip, target.port);
}

/** A socket's local or peer address, or undefined if it has none (closed, not connected). */
export function sockAddress(fd: number, side: 'local' | 'remote'): AddressInfo | undefined {
  const found = side === 'local' ? native.getsockname(fd) : native.getpeername(fd);
  if (typeof found === 'number') return undefined;
  const family = found.family === 6 ? 'IPv6' : found.family === 4 ? 'IPv4' : 'unix';
  return { address: found.address, port: found.port, family };
}

/** The descriptor of a connected node:net socket, or throws ERR_NBIO_INVALID_ARG. */
function descriptorOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } } | null)?._handle?.fd;
  if (typeof fd !== 'number' || fd < 0 || socket.connecting || socket.destroyed) {
    throw new NbioError('ERR_NBIO_INVALID_ARG', 'addConn() takes a connected node:net Socket (TCP or Unix) with its own descriptor');
  }
  return fd;
}

/**
 * Stops a node:net socket reading and resolves once it has handed the
 * kernel what it still had to send (undefined: nothing left). Throws
 * ERR_NBIO_INVALID_ARG for anything but a connected node:net socket with
 * a descriptor of its own (not a TLS socket, say).
 */
export function whenSent(socket: Socket): Promise<void> | undefined {
  descriptorOf(socket);
  socket.pause();
  if (socket.writableLength === 0) return undefined;
  return new Promise((resolve) => socket.once('drain', () => resolve()));
}

/**
 * Takes a node:net socket's connection away from libuv, synchronously (so
 * nothing arrives in between): keeps the bytes Node had received and not
 * delivered, duplicates the descriptor, and destroys the socket (libuv
 * closes its descriptor; the connection lives on in the copy). Returns the
 * copy, what it carries, and the kept bytes.
 */
export function detach(socket: Socket): { fd: number; transport: Transport; buffered: Uint8Array[] } {
  const original = descriptorOf(socket);
  const buffered: Uint8Array[] = [];
  for (let chunk = socket.read(); chunk !== null; chunk = socket.read()) buffered.push(Buffer.from(chunk));
  const fd = native.dup(original);
  if (fd < 0) throw systemError(fd, 'dup');
  socket.destroy();
  const transport: Transport = (native.getsockname(fd) as { family?: number }).family === 1 ? 'unix' : 'tcp';
  return { fd, transport, buffered };
}
