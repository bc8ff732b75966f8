/**
 * The core export every command component needs besides the server file's
 * `run$run`: `cabi_realloc`, through which the runtime hands the guest
 * lists and strings (arguments, reads, poll results). build/build-wasi.mjs
 * compiles this file as a second entry beside each examples/wasi/ file, so
 * server files need not spell it.
 */
export { cabi_realloc } from "../abi";
