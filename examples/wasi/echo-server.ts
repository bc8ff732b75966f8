/**
 * The echo server as a WASI 0.2 command (dist/wasm/echo-server.wasm):
 * listens on its first argument (default 127.0.0.1:8888, port 0 allowed),
 * prints `listening HOST:PORT`, and writes back every chunk it receives.
 * A peer that stops reading may have at most 6 MiB queued before its
 * connection is closed.
 *
 *   wasmtime run -S inherit-network=y -S tcp=y dist/wasm/echo-server.wasm 127.0.0.1:8888
 */
import { Bytes, Conn, Handlers, serve } from "../../assembly/wasi/loop";

class Echo extends Handlers {
  onData(conn: Conn, data: Bytes): void {
    // `data` points into the reactor's read area; the write copies only
    // what the system does not take at once.
    conn.write(data);
  }
}

/** wasi:cli/run (build/wit-exports.mjs names it `wasi:cli/run@0.2.12#run`). */
export function run$run(): i32 {
  return serve(new Echo(), { address: "127.0.0.1:8888", maxWriteBufferSize: 6 << 20 });
}
