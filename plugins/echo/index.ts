/**
 * Echo: every byte back to its sender, in order, whatever the peer's speed
 * (`send` keeps what the connection cannot take yet and pauses reading
 * until it drained).
 */
import { Bytes, Connection, Plugin, register } from "../sdk/assemblyscript";
export * from "../sdk/assemblyscript/exports";

class Echo extends Plugin {
  onData(conn: Connection, data: Bytes): void {
    conn.send(data);
  }
}

register(new Echo());
