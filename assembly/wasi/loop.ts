/**
 * Programs on the WASI build: the reactor, this loop and your handlers in
 * one WASI 0.2 command component. Subclass `Handlers`, override what you
 * need, and export `run$run` calling `serve` (or `connect` for a client);
 * see examples/wasi/:
 *
 *   class Echo extends Handlers {
 *     onData(conn: Conn, data: Bytes): void { conn.write(data); }
 *   }
 *   export function run$run(): i32 {
 *     return serve(new Echo(), { address: "127.0.0.1:8888", maxWriteBufferSize: 6 << 20 });
 *   }
 *
 * The loop polls the reactor, hands each event to a handler, and repeats
 * until a handler calls `stop` (a server normally runs until killed).
 * Handlers run one at a time, in the order things happened; writes, ends
 * and closes made in a handler act at once.
 */
import { endCall } from "../abi";
import {
  CLOSE_CAUSE_LOCAL, CLOSE_CAUSE_PEER_ENDED, CLOSE_CAUSE_WRITE_OVERFLOW, CONN_ORIGIN_DIALING,
  EVENT_CONN_OFFSET, EVENT_DATA_OFFSET, EVENT_DETAIL_OFFSET, EVENT_KIND_CLOSED, EVENT_KIND_DATA, EVENT_KIND_DRAINED,
  EVENT_KIND_ENDED, EVENT_KIND_LISTENER_PAUSED, EVENT_KIND_OFFSET, EVENT_KIND_OPENED, EVENT_SIZE, EVENT_STATUS_OFFSET,
  FD_MASK, LIST_LEN_OFFSET, LIST_PTR_OFFSET,
} from "../generated/abi";
import {
  reactorAddConn, reactorAddListener, reactorBacklog, reactorBufferedAmount, reactorClose, reactorEnd,
  reactorInit, reactorResumeListener, reactorRunOnce, reactorWrite,
} from "../reactor";
import { MAX_ADDRESS_TEXT } from "./address";
import { argumentsList, writeStderr, writeStdout } from "./cli";
import { monotonicNow } from "./clocks";
import { expireLingers, lingerUntil, nextLingerDeadline } from "./linger-queue";
import { netAddress, netDial, netListen } from "./net";

/** `onClose` reason: this side closed (`end`, `close`). */
export const CLOSED_BY_SELF: i32 = CLOSE_CAUSE_LOCAL;
/** `onClose` reason: the peer ended the stream. */
export const CLOSED_BY_PEER: i32 = CLOSE_CAUSE_PEER_ENDED;
/** `onClose` reason: a write would have queued more than `maxWriteBufferSize`. */
export const CLOSED_WRITE_OVERFLOW: i32 = CLOSE_CAUSE_WRITE_OVERFLOW;

/** How long a listener rests after accepting failed (EMFILE...). */
const ACCEPT_PAUSE_NS: u64 = 50_000_000;

const TEXT: usize = memory.data(<i32>MAX_ADDRESS_TEXT);

/** Settings of `serve` and `connect`. */
export class Options {
  /** Address to listen on (`serve`) or dial (`connect`) when the program
   *  has no argument. Port 0 listens on any free port. */
  address: string = "127.0.0.1:8888";
  /** Largest single read: the most bytes one `onData` call carries. */
  readBufferSize: u32 = 65536;
  /** Most bytes a connection may keep queued for a slow peer; 0: no limit. */
  maxWriteBufferSize: u32 = 0;
  /** Most reads per connection per readiness report (fairness). */
  maxConnReadTimesPerEventLoop: u32 = 3;
  /** Listen queue length (`serve`). */
  backlog: u32 = 511;
  /** Stop with status 1 after this many milliseconds; 0: never. */
  timeoutMs: u32 = 0;
  /** Most milliseconds a connection the program ended (`conn.end()`)
   *  waits, once everything is sent and its FIN is out, for the peer to
   *  end too (data arriving meanwhile still reaches `onData`); it is then
   *  closed without a reset. 0: close as soon as the FIN is out. */
  lingerTimeoutMs: u32 = 5000;
}

/** Bytes that arrived: a view into the reactor's read area, valid only
 *  during the `onData` call (copy what you keep). */
export class Bytes {
  /** Address of the first byte in linear memory. */
  ptr: usize = 0;
  /** Number of bytes. */
  length: u32 = 0;

  /** The byte at `i` (< length). */
  @inline at(i: u32): u8 { return load<u8>(this.ptr + <usize>i); }

  /** The bytes decoded as UTF-8. */
  toString(): string { return String.UTF8.decodeUnsafe(this.ptr, <usize>this.length); }
}

/** One connection. Valid from `onOpen` to `onClose`; afterwards every
 *  operation returns -9 (EBADF). */
export class Conn {
  /** Yours: per-connection state of your handlers. */
  session: Object | null = null;

  constructor(
    /** The reactor's handle of the connection. */
    readonly handle: u32,
  ) {}

  /** Sends `len` bytes at `ptr`: written at once where possible, the rest
   *  copied and queued in order. Returns `len`, or a negated errno when
   *  the connection is closed or closes because of this write (-105,
   *  ENOBUFS: more than `maxWriteBufferSize` would be queued); `onClose`
   *  then follows. */
  writeRaw(ptr: usize, len: u32): i32 { return reactorWrite(this.handle, ptr, len); }

  /** Sends the bytes of `data` (see `writeRaw`). */
  write(data: Bytes): i32 { return reactorWrite(this.handle, data.ptr, data.length); }

  /** Sends `text` as UTF-8 (see `writeRaw`). */
  writeString(text: string): i32 {
    const buf = String.UTF8.encode(text);
    return reactorWrite(this.handle, changetype<usize>(buf), <u32>buf.byteLength);
  }

  /** Ends this side: everything written so far is sent, then the FIN,
   *  and `onData` still gets what the peer sends until it ends too (or
   *  `lingerTimeoutMs` passes); then the connection closes. No more
   *  writes. */
  end(): i32 {
    const r = reactorEnd(this.handle);
    if (r == 0 && !this.ending) {
      this.ending = true;
      lingerIfSent(this.handle);
    }
    return r;
  }

  /** Closes now, discarding queued bytes. */
  close(): i32 { return reactorClose(this.handle, CLOSE_CAUSE_LOCAL); }

  /** Bytes queued and not yet taken by the system. */
  get bufferedAmount(): u32 { return reactorBufferedAmount(this.handle); }

  /** The local address, `host:port` (empty if unknown). */
  localAddress(): string { return addressText(<i32>(this.handle & FD_MASK), false); }

  /** The peer's address, `host:port`. For a dialed connection that is not
   *  open (yet), the address that was dialed. */
  remoteAddress(): string {
    if (this.peer.length == 0) this.peer = addressText(<i32>(this.handle & FD_MASK), true);
    return this.peer;
  }

  /** Cache of `remoteAddress`. */
  peer: string = "";
  /** `end` was called. */
  ending: bool = false;
}

/** Your handlers. Each is called with the reactor idle, one at a time. */
export abstract class Handlers {
  /** A connection is open (accepted, or a dial connected); always before its first `onData`. */
  onOpen(conn: Conn): void {}
  /** Bytes arrived (valid only during the call). */
  onData(conn: Conn, data: Bytes): void {}
  /** Everything written so far was taken by the system (after a write had to queue). */
  onDrain(conn: Conn): void {}
  /** The connection is closed, exactly once: `reason` is CLOSED_BY_SELF,
   *  CLOSED_BY_PEER (the peer ended its side first; what was queued for it
   *  was still sent), CLOSED_WRITE_OVERFLOW or a negated errno (-104,
   *  ECONNRESET; -111, ECONNREFUSED for a dial; ...). */
  onClose(conn: Conn, reason: i32): void {}
}

/** Writes `line` and a newline to stdout (or stderr), flushed. */
export function print(line: string, toStderr: bool = false): void {
  const buf = String.UTF8.encode(line + "\n");
  if (toStderr) writeStderr(changetype<usize>(buf), <u32>buf.byteLength);
  else writeStdout(changetype<usize>(buf), <u32>buf.byteLength);
}

/** The Linux name of a (negated or positive) errno, e.g. "ECONNREFUSED",
 *  or "errno N" for one without a name here. */
export function errnoName(errno: i32): string {
  switch (errno < 0 ? -errno : errno) {
    case 2: return "ENOENT";
    case 5: return "EIO";
    case 9: return "EBADF";
    case 12: return "ENOMEM";
    case 13: return "EACCES";
    case 22: return "EINVAL";
    case 24: return "EMFILE";
    case 32: return "EPIPE";
    case 95: return "EOPNOTSUPP";
    case 98: return "EADDRINUSE";
    case 99: return "EADDRNOTAVAIL";
    case 103: return "ECONNABORTED";
    case 104: return "ECONNRESET";
    case 105: return "ENOBUFS";
    case 110: return "ETIMEDOUT";
    case 111: return "ECONNREFUSED";
    case 113: return "EHOSTUNREACH";
    default: return `errno ${errno < 0 ? -errno : errno}`;
  }
}

/** Linux's EACCES: what wasi:sockets' access-denied maps to (wasi/sockets.ts). */
const EACCES: i32 = 13;

/** Why a listen or dial could not start, for stderr: the errno's name,
 *  and for EACCES (the runtime denies TCP) how to grant it. */
function openFailure(errno: i32): string {
  const name = errnoName(errno);
  return errno == -EACCES ? name + ": the runtime did not grant TCP: run with -S inherit-network=y -S tcp=y" : name;
}

/** Makes `serve` / `connect` return `status` once the current handler returns. */
export function stop(status: i32): void {
  stopping = true;
  exitStatus = status;
}

let stopping = false;
let exitStatus: i32 = 0;
/** How long an ended connection waits for its peer's end (ns; see Options.lingerTimeoutMs). */
let lingerNs: u64 = 0;

/** If connection `handle`, ended, has nothing queued, its FIN is out: it
 *  waits for the peer's end at most `lingerNs`. Called after `end` and at
 *  each `drained` (one made before the `end` in the same batch finds bytes
 *  queued since: the next `drained` starts it). */
function lingerIfSent(handle: u32): void {
  if (reactorBufferedAmount(handle) != 0) return;
  if (lingerNs == 0) reactorClose(handle, CLOSE_CAUSE_LOCAL);
  else lingerUntil(handle, monotonicNow() + lingerNs);
}

function addressText(fd: i32, remote: bool): string {
  const n = netAddress(fd, remote, TEXT);
  return n < 0 ? "" : String.UTF8.decodeUnsafe(TEXT, <usize>n);
}

/** The program's first argument, or `fallback`. */
function addressArgument(fallback: string): string {
  const count = memory.data(4, 4);
  const args = argumentsList(count);
  const text = load<u32>(count) >= 2
    ? String.UTF8.decodeUnsafe(<usize>load<u32>(args, 8), <usize>load<u32>(args, 12))
    : fallback;
  endCall();
  return text;
}

/** Runs `open` (returns a descriptor or -errno) on the UTF-8 of `address`. */
function openAddress(address: string, dial: bool, backlog: u32): i32 {
  const buf = String.UTF8.encode(address);
  const ptr = changetype<usize>(buf), len = <u32>buf.byteLength;
  return dial ? netDial(ptr, len) : netListen(ptr, len, backlog);
}

/** The live connections, indexed by descriptor. */
const conns = new Array<Conn | null>();
const bytes = new Bytes();

function connOf(handle: u32): Conn | null {
  const fd = <i32>(handle & FD_MASK);
  if (fd >= conns.length) return null;
  const c = conns[fd];
  return c != null && c.handle == handle ? c : null;
}

/** The Conn of a new handle (add-conn makes it before its `opened` event). */
function track(handle: u32): Conn {
  const fd = <i32>(handle & FD_MASK);
  while (conns.length <= fd) conns.push(null);
  let c = connOf(handle);
  if (c == null) { c = new Conn(handle); conns[fd] = c; }
  return c;
}

/** Hands one event record to the handlers. Returns the listener to pause, or -1. */
function dispatch(handlers: Handlers, e: usize): i32 {
  const kind = load<u8>(e, EVENT_KIND_OFFSET);
  const handle = load<u32>(e, EVENT_CONN_OFFSET);
  if (kind == EVENT_KIND_OPENED) {
    const c = track(handle);
    c.peer = ""; // a dial's target text gives way to the connected address
    handlers.onOpen(c);
  } else if (kind == EVENT_KIND_DATA) {
    const c = connOf(handle);
    if (c != null) {
      bytes.ptr = <usize>load<u32>(e, EVENT_DATA_OFFSET + LIST_PTR_OFFSET);
      bytes.length = load<u32>(e, EVENT_DATA_OFFSET + LIST_LEN_OFFSET);
      handlers.onData(c, bytes);
    }
  } else if (kind == EVENT_KIND_ENDED) {
    // The peer ended its side: what is queued is still sent, then the
    // connection closes (CLOSED_BY_PEER), as Node's sockets do by default.
    if (connOf(handle) != null) reactorEnd(handle);
  } else if (kind == EVENT_KIND_DRAINED) {
    const c = connOf(handle);
    // An ended connection's queue is sent and its FIN out: it lingers.
    if (c != null) { if (c.ending) lingerIfSent(handle); else handlers.onDrain(c); }
  } else if (kind == EVENT_KIND_CLOSED) {
    const c = connOf(handle);
    if (c != null) {
      conns[<i32>(handle & FD_MASK)] = null;
      handlers.onClose(c, load<i32>(e, EVENT_STATUS_OFFSET));
    }
  } else if (kind == EVENT_KIND_LISTENER_PAUSED) {
    return <i32>load<u32>(e, EVENT_DETAIL_OFFSET);
  }
  return -1;
}

function init(options: Options): i32 {
  return reactorInit(options.readBufferSize, options.maxWriteBufferSize, options.maxConnReadTimesPerEventLoop, false, 0, false);
}

/** Polls and dispatches until `stop` (or the time-out); returns the status. */
function loop(handlers: Handlers, options: Options): i32 {
  const deadline = options.timeoutMs == 0 ? u64.MAX_VALUE : monotonicNow() + <u64>options.timeoutMs * 1_000_000;
  lingerNs = <u64>options.lingerTimeoutMs * 1_000_000;
  let paused: i32 = -1;
  let resumeAt: u64 = 0;
  while (!stopping) {
    // The clock is read only while something is timed (a hot loop asks
    // nothing it does not need).
    const wake = min(min(deadline, paused >= 0 ? resumeAt : u64.MAX_VALUE), nextLingerDeadline());
    const now = wake != u64.MAX_VALUE ? monotonicNow() : 0;
    if (now >= deadline) {
      print(`timed out after ${options.timeoutMs} ms`, true);
      return 1;
    }
    if (now >= nextLingerDeadline()) expireLingers(now);
    let timeout: i32 = -1;
    if (reactorBacklog() != 0) timeout = 0;
    else if (wake != u64.MAX_VALUE) timeout = now >= wake ? 0 : <i32>min((wake - now) / 1_000_000 + 1, <u64>i32.MAX_VALUE);
    const ret = reactorRunOnce(timeout);
    const list = <usize>load<u32>(ret, LIST_PTR_OFFSET);
    const n = load<u32>(ret, LIST_LEN_OFFSET);
    for (let i: u32 = 0; i < n; i++) {
      const l = dispatch(handlers, list + <usize>i * EVENT_SIZE);
      if (l >= 0) { paused = l; resumeAt = monotonicNow() + ACCEPT_PAUSE_NS; }
    }
    endCall();
    if (paused >= 0 && monotonicNow() >= resumeAt) {
      reactorResumeListener(paused);
      paused = -1;
    }
  }
  return exitStatus;
}

/**
 * Runs a server: listens on the program's first argument (else
 * `options.address`), prints `listening HOST:PORT` (the bound address) to
 * stdout, and serves until killed or `stop`. Returns the command's exit
 * status: 1, with the reason on stderr, when it cannot listen (EACCES:
 * the runtime did not grant TCP, and the message says how to).
 */
export function serve(handlers: Handlers, options: Options): i32 {
  const address = addressArgument(options.address);
  const epfd = init(options);
  const lfd = epfd < 0 ? epfd : openAddress(address, false, options.backlog);
  const added = lfd < 0 ? lfd : reactorAddListener(lfd);
  endCall();
  if (added < 0) {
    print(`cannot listen on ${address}: ${openFailure(added)}`, true);
    return 1;
  }
  print("listening " + addressText(lfd, false));
  return loop(handlers, options);
}

/**
 * Runs a client: dials the program's first argument (else
 * `options.address`); the connection then gets `onOpen`, or `onClose`
 * with the error if the connect fails. Runs until a handler calls `stop`
 * (or `options.timeoutMs` passes). Returns the status given to `stop`, or
 * 1, with the reason on stderr, when the dial cannot even start.
 */
export function connect(handlers: Handlers, options: Options): i32 {
  const address = addressArgument(options.address);
  const epfd = init(options);
  const fd = epfd < 0 ? epfd : openAddress(address, true, 0);
  const h = fd < 0 ? fd : reactorAddConn(fd, CONN_ORIGIN_DIALING);
  endCall();
  if (h < 0) {
    print(`cannot dial ${address}: ${openFailure(h)}`, true);
    return 1;
  }
  track(<u32>h).peer = address;
  return loop(handlers, options);
}
