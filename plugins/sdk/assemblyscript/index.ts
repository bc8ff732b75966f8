/** The AssemblyScript SDK of nbio-wasm plugins: see plugin.ts. */
export { Bytes, CloseReason, Connection, Level, log } from "./connection";
export { Plugin, register } from "./plugin";
