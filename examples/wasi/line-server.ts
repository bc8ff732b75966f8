/**
 * A line-based protocol as a WASI 0.2 command (dist/wasm/line-server.wasm):
 * every line a client sends (ended by "\n") comes back upper-cased; the
 * line `QUIT` is answered `BYE` and the connection is closed once that is
 * sent. Lines may arrive in any number of pieces; a line longer than
 * MAX_LINE bytes closes the connection. Listens on its first argument
 * (default 127.0.0.1:7777) and prints `listening HOST:PORT`.
 *
 *   wasmtime run -S inherit-network=y -S tcp=y dist/wasm/line-server.wasm 127.0.0.1:7777
 */
import { Bytes, Conn, Handlers, serve } from "../../assembly/wasi/loop";

const MAX_LINE: i32 = 64 << 10;
const NEWLINE: u8 = 0x0a;

/** The start of a line still waiting for its "\n" (per connection). */
class Partial {
  bytes: Array<u8> = new Array<u8>();
}

@inline function upper(c: u8): u8 { return c >= 0x61 && c <= 0x7a ? c - 0x20 : c; }

class LineServer extends Handlers {
  onOpen(conn: Conn): void {
    conn.session = new Partial();
  }

  onData(conn: Conn, data: Bytes): void {
    const partial = changetype<Partial>(conn.session).bytes;
    for (let i: u32 = 0; i < data.length; i++) {
      const c = data.at(i);
      if (c != NEWLINE) {
        if (partial.length == MAX_LINE) { conn.close(); return; }
        partial.push(upper(c));
        continue;
      }
      if (isQuit(partial)) {
        conn.writeString("BYE\n");
        conn.end();
        return;
      }
      partial.push(NEWLINE);
      conn.writeRaw(partial.dataStart, <u32>partial.length);
      partial.length = 0;
    }
  }
}

/** Whether the line (already upper-cased, "\r" allowed at the end) is QUIT. */
function isQuit(line: Array<u8>): bool {
  let n = line.length;
  if (n != 0 && line[n - 1] == 0x0d) n--;
  return n == 4 && line[0] == 0x51 && line[1] == 0x55 && line[2] == 0x49 && line[3] == 0x54;
}

export function run$run(): i32 {
  return serve(new LineServer(), { address: "127.0.0.1:7777", maxWriteBufferSize: 1 << 20 });
}
