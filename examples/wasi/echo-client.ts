/**
 * The seed's echo client as a WASI 0.2 command (dist/wasm/echo-client.wasm):
 * dials its first argument (default 127.0.0.1:8888), writes 4 MiB of
 * pseudo-random bytes in one write, and checks that the identical 4 MiB
 * comes back. Prints `OK: 4194304 bytes echoed intact` and exits 0, or
 * `FAIL: ...` and exits 1 (a refused dial, a wrong byte, a close, or 60 s).
 *
 *   wasmtime run -S inherit-network=y -S tcp=y dist/wasm/echo-client.wasm 127.0.0.1:8888
 */
import { Bytes, Conn, Handlers, connect, errnoName, print, stop } from "../../assembly/wasi/loop";
import { monotonicNow } from "../../assembly/wasi/clocks";

const SIZE: u32 = 4 << 20;

class EchoClient extends Handlers {
  /** The bytes sent; what comes back is compared with them. */
  sent: Uint8Array = new Uint8Array(SIZE);
  received: u32 = 0;

  constructor() {
    super();
    // xorshift32, seeded from the clock: the bytes differ on every run.
    let x = <u32>monotonicNow() | 1;
    for (let i: u32 = 0; i < SIZE; i++) {
      x ^= x << 13; x ^= x >> 17; x ^= x << 5;
      this.sent[i] = <u8>x;
    }
  }

  onOpen(conn: Conn): void {
    conn.writeRaw(this.sent.dataStart, SIZE);
  }

  onData(conn: Conn, data: Bytes): void {
    if (this.received + data.length > SIZE) return this.fail(conn, "more bytes than were sent");
    for (let i: u32 = 0; i < data.length; i++) {
      if (data.at(i) != this.sent[this.received + i]) return this.fail(conn, `byte ${this.received + i} differs`);
    }
    this.received += data.length;
    if (this.received == SIZE) {
      print(`OK: ${SIZE} bytes echoed intact`);
      conn.close();
      stop(0);
    }
  }

  onClose(conn: Conn, reason: i32): void {
    if (this.received == SIZE) return;
    const why = reason < 0 ? errnoName(reason) : "the server closed the connection";
    print(this.received == 0 && reason < 0
      ? `FAIL: dial ${conn.remoteAddress()}: ${why}`
      : `FAIL: closed after ${this.received} of ${SIZE} bytes: ${why}`);
    stop(1);
  }

  fail(conn: Conn, why: string): void {
    print(`FAIL: ${why}`);
    conn.close();
    stop(1);
  }
}

export function run$run(): i32 {
  return connect(new EchoClient(), { address: "127.0.0.1:8888", timeoutMs: 60_000 });
}
