/**
 * `nbio:engine/net` (wit/nbio-wasi.wit): sockets opened by address inside
 * the guest, for the WASI build. The descriptors are slots of the same
 * table as accepted connections (wasi/fd-table.ts), handed to
 * `reactorAddListener` / `reactorAddConn` like kernel descriptors.
 */
import { EBADF, EINVAL, EMFILE, ENOTCONN } from "../constants";
import { formatAddress, parseAddress } from "./address";
import { EVENT_KIND_CONNECTING, EVENT_KIND_LISTENER, fdOpen, fdSlot, slotSetSocket, slotSocket } from "./fd-table";
import {
  SOCKADDR_SIZE, createTcpSocket, dropSocket, finishBindBlocking, listenBlocking, setListenBacklogSize,
  socketAddress, startBind, startConnect,
} from "./sockets";

const SA: usize = memory.data(<i32>SOCKADDR_SIZE, 4);

/** Gives `socket` a descriptor of `kind`; drops it if the table is full. */
function install(socket: i32, kind: u8): i32 {
  const fd = fdOpen(kind);
  if (fd < 0) { dropSocket(socket); return -EMFILE; }
  slotSetSocket(fdSlot(fd), socket);
  return fd;
}

/** Listens on the address text [ptr, ptr+len) with `backlog` (0: the
 *  runtime's default). Blocks until listening. The descriptor or -errno. */
export function netListen(ptr: usize, len: u32, backlog: u32): i32 {
  let r = parseAddress(ptr, len, SA);
  if (r < 0) return r;
  const sock = createTcpSocket(load<u8>(SA));
  if (sock < 0) return sock;
  if (backlog != 0) setListenBacklogSize(sock, backlog);
  r = startBind(sock, SA);
  if (r == 0) r = finishBindBlocking(sock);
  if (r == 0) r = listenBlocking(sock);
  if (r < 0) { dropSocket(sock); return r; }
  return install(sock, EVENT_KIND_LISTENER);
}

/** Starts connecting to the address text [ptr, ptr+len). The descriptor
 *  of the connecting socket (for `reactorAddConn` as dialing) or -errno. */
export function netDial(ptr: usize, len: u32): i32 {
  const r0 = parseAddress(ptr, len, SA);
  if (r0 < 0) return r0;
  const sock = createTcpSocket(load<u8>(SA));
  if (sock < 0) return sock;
  const r = startConnect(sock, SA);
  if (r < 0) { dropSocket(sock); return r; }
  return install(sock, EVENT_KIND_CONNECTING);
}

/**
 * Writes the local (or, with `remote`, the peer's) address of `fd` as text
 * at `dest` (room for MAX_ADDRESS_TEXT bytes). Returns its length, -EBADF
 * for a descriptor without a socket, or -ENOTCONN when there is no such
 * address yet.
 */
export function netAddress(fd: i32, remote: bool, dest: usize): i32 {
  const s = fdSlot(fd);
  if (s == 0 || slotSocket(s) == 0) return -EBADF;
  const r = socketAddress(slotSocket(s), remote, SA);
  if (r < 0) return r == -EINVAL ? -ENOTCONN : r;
  return <i32>formatAddress(SA, dest);
}
