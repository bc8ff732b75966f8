/**
 * wasi:sockets@0.2.12 (network, instance-network, tcp, tcp-create-socket,
 * ip-name-lookup) at the canonical-ABI level, with wrappers that return
 * one i32: a value >= 0 (a handle, or 0 for success) or a negated Linux
 * errno mapped from the WASI `error-code` (see `errnoOf`).
 *
 * Socket addresses are kept in the canonical-ABI memory layout of
 * `ip-socket-address` (SOCKADDR_SIZE bytes, align 4), the layout
 * `local-address` returns them in, so they are copied, never converted:
 *
 *   [0] u8 family: 0 ipv4, 1 ipv6      [4] u16 port
 *   ipv4: [6] u8 x 4 address
 *   ipv6: [8] u32 flow-info  [12] u16 x 8 address  [28] u32 scope-id
 *
 * Return-area layouts (RET, see ret.ts; error-code is a u8 enum):
 *
 *   result<_, error-code>                       [0] disc  [1] code
 *   result<own<T>, error-code>                  [0] disc  [4] handle | code
 *   result<tuple<in, out>, error-code>          [0] disc  [4] in  [8] out
 *   result<tuple<sock, in, out>, error-code>    [0] disc  [4] sock [8] in [12] out
 *   result<ip-socket-address, error-code>       [0] disc  [4] address (32 bytes)
 *   result<option<ip-address>, error-code>      [0] disc  [2] option disc
 *                                               [4] ip-address disc  [6] u8 x 4 | u16 x 8
 */
import { RET } from "./ret";
import { block, dropPollable } from "./io";

export const SOCKADDR_SIZE: usize = 32;
export const FAMILY_IPV4: u8 = 0;
export const FAMILY_IPV6: u8 = 1;

/** `error-code` would-block: the operation is not finished, try again. */
const WOULD_BLOCK: u8 = 8;

// @ts-ignore: decorator
@external("wasi:sockets/instance-network@0.2.12", "instance-network")
declare function _instanceNetwork(): i32;
// @ts-ignore: decorator
@external("wasi:sockets/tcp-create-socket@0.2.12", "create-tcp-socket")
declare function _createTcpSocket(family: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.start-bind")
declare function _startBind(s: i32, net: i32, disc: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32,
  a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.finish-bind")
declare function _finishBind(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.start-connect")
declare function _startConnect(s: i32, net: i32, disc: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32,
  a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.finish-connect")
declare function _finishConnect(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.start-listen")
declare function _startListen(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.finish-listen")
declare function _finishListen(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.accept")
declare function _accept(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.local-address")
declare function _localAddress(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.remote-address")
declare function _remoteAddress(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.set-listen-backlog-size")
declare function _setListenBacklogSize(s: i32, n: u64, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.shutdown")
declare function _shutdown(s: i32, how: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.subscribe")
export declare function subscribeSocket(s: i32): i32;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[resource-drop]tcp-socket")
export declare function dropSocket(s: i32): void;
// @ts-ignore: decorator
@external("wasi:sockets/ip-name-lookup@0.2.12", "resolve-addresses")
declare function _resolveAddresses(net: i32, name: usize, len: u32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/ip-name-lookup@0.2.12", "[method]resolve-address-stream.resolve-next-address")
declare function _resolveNextAddress(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/ip-name-lookup@0.2.12", "[method]resolve-address-stream.subscribe")
declare function _subscribeResolve(s: i32): i32;
// @ts-ignore: decorator
@external("wasi:sockets/ip-name-lookup@0.2.12", "[resource-drop]resolve-address-stream")
declare function _dropResolveStream(s: i32): void;

/** Linux errno (negated) for a WASI `error-code`. Several codes share one
 *  errno where Linux has no closer match. */
export function errnoOf(code: u8): i32 {
  switch (code) {
    case 1: return -13;   // access-denied: EACCES
    case 2: return -95;   // not-supported: EOPNOTSUPP
    case 3: return -22;   // invalid-argument: EINVAL
    case 4: return -12;   // out-of-memory: ENOMEM
    case 5: return -110;  // timeout: ETIMEDOUT
    case 6: return -114;  // concurrency-conflict: EALREADY
    case 7: return -22;   // not-in-progress: EINVAL
    case 8: return -11;   // would-block: EAGAIN
    case 9: return -22;   // invalid-state: EINVAL
    case 10: return -24;  // new-socket-limit: EMFILE
    case 11: return -99;  // address-not-bindable: EADDRNOTAVAIL
    case 12: return -98;  // address-in-use: EADDRINUSE
    case 13: return -113; // remote-unreachable: EHOSTUNREACH
    case 14: return -111; // connection-refused: ECONNREFUSED
    case 15: return -104; // connection-reset: ECONNRESET
    case 16: return -103; // connection-aborted: ECONNABORTED
    case 17: return -90;  // datagram-too-large: EMSGSIZE
    case 18:              // name-unresolvable
    case 19:              // temporary-resolver-failure
    case 20: return -2;   // permanent-resolver-failure: ENOENT
    default: return -5;   // unknown: EIO
  }
}

/** Decodes `result<_, error-code>`: 0 or -errno. */
@inline function unitResult(): i32 {
  return load<u8>(RET) == 0 ? 0 : errnoOf(load<u8>(RET, 1));
}

/** Decodes the error of a result whose payload is 4-aligned: -errno. */
@inline function errAt4(): i32 { return errnoOf(load<u8>(RET, 4)); }

let network: i32 = 0;

/** The instance's network (fetched once, kept for the program's life). */
function instanceNetwork(): i32 {
  if (network == 0) network = _instanceNetwork();
  return network;
}

/** A new TCP socket of `family`: its handle, or -errno. */
export function createTcpSocket(family: u8): i32 {
  _createTcpSocket(family, RET);
  return load<u8>(RET) == 0 ? load<i32>(RET, 4) : errAt4();
}

/** The 13 flat i32 of an ip-socket-address (discriminant + 11 joined slots, see `_startBind`). */
@inline function flat(sa: usize, i: i32): i32 {
  if (load<u8>(sa) == FAMILY_IPV4) {
    // ipv4: port, a, b, c, d
    if (i == 0) return <i32>load<u16>(sa, 4);
    if (i <= 4) return <i32>load<u8>(sa + 5 + <usize>i);
    return 0;
  }
  // ipv6: port, flow-info, 8 x u16, scope-id
  if (i == 0) return <i32>load<u16>(sa, 4);
  if (i == 1) return load<i32>(sa, 8);
  if (i <= 9) return <i32>load<u16>(sa + 12 + (<usize>(i - 2) << 1));
  return load<i32>(sa, 28);
}

/** Starts binding `s` to the address at `sa`. 0 or -errno. */
export function startBind(s: i32, sa: usize): i32 {
  _startBind(s, instanceNetwork(), <i32>load<u8>(sa), flat(sa, 0), flat(sa, 1), flat(sa, 2), flat(sa, 3),
    flat(sa, 4), flat(sa, 5), flat(sa, 6), flat(sa, 7), flat(sa, 8), flat(sa, 9), flat(sa, 10), RET);
  return unitResult();
}

/** Starts connecting `s` to the address at `sa`. 0 or -errno. */
export function startConnect(s: i32, sa: usize): i32 {
  _startConnect(s, instanceNetwork(), <i32>load<u8>(sa), flat(sa, 0), flat(sa, 1), flat(sa, 2), flat(sa, 3),
    flat(sa, 4), flat(sa, 5), flat(sa, 6), flat(sa, 7), flat(sa, 8), flat(sa, 9), flat(sa, 10), RET);
  return unitResult();
}

/** finish-bind, blocking on the socket's pollable while it would block. 0 or -errno. */
export function finishBindBlocking(s: i32): i32 {
  _finishBind(s, RET);
  while (wouldBlock()) {
    waitFor(s);
    _finishBind(s, RET);
  }
  return unitResult();
}

/** start-listen then finish-listen, blocking while it would block. 0 or -errno. */
export function listenBlocking(s: i32): i32 {
  _startListen(s, RET);
  if (load<u8>(RET) != 0) return unitResult();
  _finishListen(s, RET);
  while (wouldBlock()) {
    waitFor(s);
    _finishListen(s, RET);
  }
  return unitResult();
}

/** Whether RET holds `result<_, error-code>` = err(would-block). */
@inline function wouldBlock(): bool { return load<u8>(RET) != 0 && load<u8>(RET, 1) == WOULD_BLOCK; }

function waitFor(s: i32): void {
  const p = subscribeSocket(s);
  block(p);
  dropPollable(p);
}

/** Sets the listen queue length (ignored where the runtime cannot). */
export function setListenBacklogSize(s: i32, n: u32): void {
  _setListenBacklogSize(s, <u64>n, RET);
}

/**
 * finish-connect: 0 with the input and output stream handles stored at
 * `streams` (two i32), -EAGAIN while the connect is in progress, or the
 * connect's -errno.
 */
export function finishConnect(s: i32, streams: usize): i32 {
  _finishConnect(s, RET);
  if (load<u8>(RET) != 0) return errAt4();
  store<i32>(streams, load<i32>(RET, 4));
  store<i32>(streams, load<i32>(RET, 8), 4);
  return 0;
}

/**
 * Accepts one connection: 0 with {socket, input, output} handles stored at
 * `out` (three i32), -EAGAIN when none is pending, or -errno.
 */
export function accept(s: i32, out: usize): i32 {
  _accept(s, RET);
  if (load<u8>(RET) != 0) return errAt4();
  store<i32>(out, load<i32>(RET, 4));
  store<i32>(out, load<i32>(RET, 8), 4);
  store<i32>(out, load<i32>(RET, 12), 8);
  return 0;
}

/** `shutdown-type` send: the FIN, this side sends nothing more. */
const SHUTDOWN_SEND: i32 = 1;

/** Shuts the sending side of connected socket `s` (its FIN; reading goes
 *  on: the socket is not closed). 0 or -errno. */
export function shutdownSend(s: i32): i32 {
  _shutdown(s, SHUTDOWN_SEND, RET);
  return unitResult();
}

/** Copies the local (or, with `remote`, the peer's) address of `s` to `sa`. 0 or -errno. */
export function socketAddress(s: i32, remote: bool, sa: usize): i32 {
  if (remote) _remoteAddress(s, RET); else _localAddress(s, RET);
  if (load<u8>(RET) != 0) return errAt4();
  memory.copy(sa, RET + 4, SOCKADDR_SIZE);
  return 0;
}

/**
 * Resolves the host name [name, name+len) and stores its first address as
 * an ip-socket-address at `sa` (port 0). Blocks until the answer. 0 or
 * -errno (-2, ENOENT, when the name has no address).
 */
export function resolveFirst(name: usize, len: u32, sa: usize): i32 {
  _resolveAddresses(instanceNetwork(), name, len, RET);
  if (load<u8>(RET) != 0) return errAt4();
  const stream = load<i32>(RET, 4);
  _resolveNextAddress(stream, RET);
  while (load<u8>(RET) != 0 && load<u8>(RET, 2) == WOULD_BLOCK) {
    const p = _subscribeResolve(stream);
    block(p);
    dropPollable(p);
    _resolveNextAddress(stream, RET);
  }
  let r: i32 = 0;
  if (load<u8>(RET) != 0) {
    r = errnoOf(load<u8>(RET, 2));
  } else if (load<u8>(RET, 2) == 0) {
    r = -2; // no addresses: ENOENT
  } else {
    memory.fill(sa, 0, SOCKADDR_SIZE);
    if (load<u8>(RET, 4) == 0) {
      store<u8>(sa, FAMILY_IPV4);
      memory.copy(sa + 6, RET + 6, 4);
    } else {
      store<u8>(sa, FAMILY_IPV6);
      memory.copy(sa + 12, RET + 6, 16);
    }
  }
  _dropResolveStream(stream);
  return r;
}
