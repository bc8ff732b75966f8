// The real reactor (assembly/index.ts), with a trap that a test can set
// off through the write export: a write of one of the magic lengths below
// traps inside the reactor instead of writing. Built by
// test/reactor/guest-compile.ts (compileGuest), used by test/poller/engine-reactor-fault.test.ts.
export {
  cabi_realloc, engine$add_acceptor, engine$add_conn, engine$add_datagram, engine$add_listener, engine$backlog,
  engine$buffered_amount, engine$close, engine$close_write, engine$conn_count, engine$end, engine$init,
  engine$memory_in_use, engine$pause_reading, engine$remove_listener, engine$resume_listener, engine$resume_reading,
  engine$shutdown, engine$stats, engine$take_events, engine$write_file,
} from "../../../assembly/index";
import { engine$run_once as runOnce, engine$write as write } from "../../../assembly/index";

/** `unreachable`. */
export const TRAP_UNREACHABLE: u32 = 0x7001;
/** A load far outside linear memory. */
export const TRAP_OUT_OF_BOUNDS: u32 = 0x7002;
/** Recursion without end: the stack overflows. */
export const TRAP_STACK_OVERFLOW: u32 = 0x7003;
/** No trap now: the next run-once hits `unreachable`. */
export const TRAP_NEXT_RUN_ONCE: u32 = 0x7004;

let armed = false;

function recurse(n: u32): u32 { return n == 0 ? 0 : recurse(n + 1) + 1; }

export function engine$write(conn: u32, ptr: usize, len: u32): i32 {
  if (len == TRAP_UNREACHABLE) unreachable();
  if (len == TRAP_OUT_OF_BOUNDS) return load<u8>(0xFFFF_FFF0);
  if (len == TRAP_STACK_OVERFLOW) return <i32>recurse(1);
  if (len == TRAP_NEXT_RUN_ONCE) armed = true;
  return write(conn, ptr, len);
}

export function engine$run_once(timeout: i32): usize {
  if (armed) unreachable();
  return runOnce(timeout);
}
