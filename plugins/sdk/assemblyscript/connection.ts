/**
 * The `conn` and `host` imports of the plugin world (wit/nbio-plugin.wit)
 * as AssemblyScript: {@link Connection}, {@link Bytes} and {@link log}.
 */

// @ts-ignore: decorator
@external("nbio:plugin/conn@0.1.0", "[method]connection.write")
declare function _write(self: u32, ptr: usize, len: u32): u32;
// @ts-ignore: decorator
@external("nbio:plugin/conn@0.1.0", "[method]connection.end")
declare function _end(self: u32): void;
// @ts-ignore: decorator
@external("nbio:plugin/conn@0.1.0", "[method]connection.close")
declare function _close(self: u32): void;
// @ts-ignore: decorator
@external("nbio:plugin/conn@0.1.0", "[method]connection.pause")
declare function _pause(self: u32): void;
// @ts-ignore: decorator
@external("nbio:plugin/conn@0.1.0", "[method]connection.resume")
declare function _resume(self: u32): void;
// @ts-ignore: decorator
@external("nbio:plugin/conn@0.1.0", "[method]connection.local-address")
declare function _localAddress(self: u32, ret: usize): void;
// @ts-ignore: decorator
@external("nbio:plugin/conn@0.1.0", "[method]connection.remote-address")
declare function _remoteAddress(self: u32, ret: usize): void;
// @ts-ignore: decorator
@external("nbio:plugin/conn@0.1.0", "[resource-drop]connection")
declare function _drop(self: u32): void;
// @ts-ignore: decorator
@external("nbio:plugin/host@0.1.0", "log")
declare function _log(level: u32, ptr: usize, len: u32): void;

/** Return area of the string-returning imports: {u32 ptr, u32 len}. */
const RET: usize = memory.data(8, 4);

/** `host.level`. */
export enum Level { Debug = 0, Info = 1, Warn = 2, Error = 3 }

/** `handler.close-reason`. */
export enum CloseReason { Local = 0, Peer = 1, Timeout = 2, Error = 3, Stopped = 4 }

/** Hands a line to the application's logger. */
export function log(level: Level, message: string): void {
  const utf8 = String.UTF8.encode(message);
  _log(<u32>level, changetype<usize>(utf8), <u32>utf8.byteLength);
}

/**
 * Bytes the host passed in (`on-data`, `init`): a view on memory that is
 * valid only during the call. Copy what you keep ({@link toUint8Array}).
 */
export class Bytes {
  constructor(public ptr: usize = 0, public length: i32 = 0) {}

  @operator("[]")
  at(i: i32): u8 { return load<u8>(this.ptr + <usize>i); }

  @operator("[]=")
  set(i: i32, v: u8): void { store<u8>(this.ptr + <usize>i, v); }

  /** A copy of bytes [start, end) as a Uint8Array of your own. */
  toUint8Array(start: i32 = 0, end: i32 = i32.MAX_VALUE): Uint8Array {
    end = min(end, this.length);
    const out = new Uint8Array(max(end - start, 0));
    memory.copy(out.dataStart, this.ptr + <usize>start, <usize>out.length);
    return out;
  }

  toString(): string { return String.UTF8.decodeUnsafe(this.ptr, <usize>this.length); }
}

/**
 * A connection the engine gave the plugin. `write` is the raw call (returns
 * how many bytes were taken); `send` never loses bytes: what the connection
 * could not take now is kept here, reading is paused, and it is written,
 * and reading resumed, once the connection drains.
 */
export class Connection {
  /** Bytes `send` could not write yet, or null. */
  private backlog: Uint8Array | null = null;

  constructor(public readonly handle: u32) {}

  /** Writes as much of `data` as the connection takes; returns that count. */
  write(data: Bytes): u32 { return _write(this.handle, data.ptr, <u32>data.length); }

  /** Writes as much of `data` as the connection takes; returns that count. */
  writeArray(data: Uint8Array): u32 { return _write(this.handle, data.dataStart, <u32>data.length); }

  /** Sends all of `data` (see the class comment). */
  send(data: Bytes): void { this.sendRaw(data.ptr, data.length); }

  /** Sends all of `data` (see the class comment). */
  sendArray(data: Uint8Array): void { this.sendRaw(data.dataStart, data.length); }

  /** Sends `text` as UTF-8 (see the class comment). */
  sendString(text: string): void {
    const utf8 = String.UTF8.encode(text);
    this.sendRaw(changetype<usize>(utf8), utf8.byteLength);
  }

  /** True while bytes given to `send` wait for the connection to drain. */
  get backlogged(): bool { return this.backlog != null; }

  end(): void { _end(this.handle); }
  close(): void { _close(this.handle); }
  pause(): void { _pause(this.handle); }
  resume(): void { _resume(this.handle); }

  localAddress(): string { _localAddress(this.handle, RET); return returnedString(); }
  remoteAddress(): string { _remoteAddress(this.handle, RET); return returnedString(); }

  /** Writes what `send` kept; true once nothing is left (reading is then resumed). */
  flush(): bool {
    const rest = this.backlog;
    if (rest == null) return true;
    const n = <i32>this.writeArray(rest);
    if (n < rest.length) {
      this.backlog = rest.subarray(n);
      return false;
    }
    this.backlog = null;
    this.resume();
    return true;
  }

  /** Gives the handle back to the host (done for you after `onClose`). */
  drop(): void { _drop(this.handle); }

  private sendRaw(ptr: usize, len: i32): void {
    let taken = 0;
    const before = this.backlog;
    if (before == null) {
      taken = <i32>_write(this.handle, ptr, <u32>len);
      if (taken >= len) return;
      this.pause();
    }
    const keep = new Uint8Array((before == null ? 0 : before.length) + len - taken);
    if (before != null) keep.set(before!);
    memory.copy(keep.dataStart + <usize>(before == null ? 0 : before.length), ptr + <usize>taken, <usize>(len - taken));
    this.backlog = keep;
  }
}

function returnedString(): string {
  return String.UTF8.decodeUnsafe(<usize>load<u32>(RET), <usize>load<u32>(RET, 4));
}
