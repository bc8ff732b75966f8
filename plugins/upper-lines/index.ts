/**
 * A line protocol: every line ("\n"-terminated) comes back in upper case
 * (ASCII letters). Bytes of an unfinished line are kept until its end
 * arrives. Config: the longest line accepted, in bytes, as decimal text
 * (default 65536); a longer line closes the connection.
 */
import { Bytes, CloseReason, Connection, Level, Plugin, log, register } from "../sdk/assemblyscript";
export * from "../sdk/assemblyscript/exports";

const NEWLINE: u8 = 10;

class UpperLines extends Plugin {
  maxLine: i32 = 65536;
  /** Per connection: the start of a line whose end has not arrived yet. */
  partial: Map<u32, Uint8Array> = new Map();

  init(config: Bytes): string | null {
    if (config.length == 0) return null;
    const text = config.toString();
    const n = I32.parseInt(text, 10);
    if (!(n > 0)) return "upper-lines: config must be the longest line in bytes, got \"" + text + "\"";
    this.maxLine = <i32>n;
    return null;
  }

  onData(conn: Connection, data: Bytes): void {
    let lastNewline = -1;
    for (let i = 0; i < data.length; i++) {
      const c = data[i];
      if (c >= 97 && c <= 122) data[i] = c - 32;
      else if (c == NEWLINE) lastNewline = i;
    }
    const key = conn.handle;
    const head = this.partial.has(key) ? this.partial.get(key) : null;
    if (lastNewline >= 0) {
      if (head != null) {
        conn.sendArray(head);
        this.partial.delete(key);
      }
      conn.send(new Bytes(data.ptr, lastNewline + 1));
    }
    const restStart = lastNewline + 1;
    if (restStart == data.length) return;
    const headLen = lastNewline < 0 && head != null ? head.length : 0;
    if (headLen + data.length - restStart > this.maxLine) {
      log(Level.Warn, "upper-lines: line longer than " + this.maxLine.toString() + " bytes; closing");
      this.partial.delete(key);
      conn.close();
      return;
    }
    const keep = new Uint8Array(headLen + data.length - restStart);
    if (headLen > 0) keep.set(head!);
    memory.copy(keep.dataStart + <usize>headLen, data.ptr + <usize>restStart, <usize>(data.length - restStart));
    this.partial.set(key, keep);
  }

  onClose(conn: Connection, reason: CloseReason): void {
    if (this.partial.has(conn.handle)) this.partial.delete(conn.handle);
  }
}

register(new UpperLines());
