/**
 * Writing a plugin in AssemblyScript: extend {@link Plugin}, override the
 * events you need, and register an instance at top level; the entry file
 * re-exports the world's functions:
 *
 *   import { Bytes, Connection, Plugin, register } from "../sdk/assemblyscript";
 *   export * from "../sdk/assemblyscript/exports";
 *
 *   class Echo extends Plugin {
 *     onData(conn: Connection, data: Bytes): void { conn.send(data); }
 *   }
 *   register(new Echo());
 */
import { Bytes, CloseReason, Connection } from "./connection";

/** The handler: every method has a default that does nothing. */
export abstract class Plugin {
  /** The application's configuration; return an error message to refuse it, or null. */
  init(config: Bytes): string | null { return null; }
  /** A connection opened. */
  onOpen(conn: Connection): void {}
  /** Bytes arrived; `data` is valid only during the call. */
  onData(conn: Connection, data: Bytes): void {}
  /** The connection drained after a short `write` (`send` handles this for you). */
  onDrain(conn: Connection): void {}
  /** The connection closed; its handle is dropped after this returns. */
  onClose(conn: Connection, reason: CloseReason): void {}
}

let current: Plugin | null = null;

/** Makes `plugin` the handler of this module. Call it once, at top level. */
export function register(plugin: Plugin): void { current = plugin; }

/** The registered handler (traps if none was registered). */
export function registered(): Plugin { return current!; }
