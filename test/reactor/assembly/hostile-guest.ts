// A hostile reactor: a core module with the reactor's imports and exports
// that, when initialised, turns every `sys` function against a descriptor
// it does not own (`victim`, passed as init's first argument). Built by
// test/reactor/guest-compile.ts (compileGuest), driven by test/sys/hostile-guest.test.ts.
//
// init returns a bitmask: bit i is set when attack i was NOT refused with
// -9 (EBADF), or, for the last bit, when the guest could not create and
// close its own epoll instance (which it does own).

import {
  sysAccept as accept, sysClose as close, sysEpollCreate as epollCreate, sysEpollCtl as epollCtl,
  sysEpollWait as epollWait, sysRead as read, sysRecvFrom as recvFrom, sysSendFile as sendFile, sysSendTo as sendTo,
  sysSetNoDelay as setNoDelay, sysShutdown as shutdown, sysSocketError as socketError,
  sysWrite as write, sysWritev as writev,
} from "../../../assembly/sys";

const EBADF: i32 = -9;
const RET = memory.data(16, 8);
const BYTES = memory.data(64, 8);
const READY = memory.data(64, 8);
const IOV = memory.data(8, 4);
const SCRATCH = memory.data(4096, 8);

let failed: i32 = 0;
let bit: i32 = 0;

/** Records attack number `bit`: set in `failed` unless refused with EBADF. */
function refused(r: i32): void {
  if (r != EBADF) failed |= 1 << bit;
  bit++;
}

export function engine$init(victim: i32, _a: u32, _b: u32, _c: bool, _d: u32, _e: bool): i32 {
  failed = 0;
  bit = 0;
  refused(read(victim, BYTES, 16));
  refused(write(victim, BYTES, 1));
  store<u32>(IOV, <u32>BYTES); store<u32>(IOV, 1, 4);
  refused(writev(victim, IOV, 1));
  refused(close(victim));
  refused(socketError(victim));
  refused(setNoDelay(victim, true));
  refused(shutdown(victim, 2));
  refused(recvFrom(victim, BYTES, 16, SCRATCH, SCRATCH + 64));
  refused(sendTo(victim, BYTES, 1, 0, 0));
  refused(sendFile(victim, victim, 0, 1));
  refused(accept(victim));
  refused(epollWait(victim, READY, 8, 0));
  const own = epollCreate();
  refused(epollCtl(own, 1, victim, 1, 1));
  refused(epollCtl(victim, 1, own, 1, 1));
  refused(epollCtl(own, 2, victim, 0, 0));
  refused(epollCtl(own, 3, victim, 4, 1));
  if (own < 0 || close(own) != 0) failed |= 1 << bit;
  return failed;
}

// The rest of the engine interface, inert: instantiateReactor requires it.
export function engine$add_listener(_fd: i32): i32 { return EBADF; }
export function engine$add_acceptor(_fd: i32): i32 { return EBADF; }
export function engine$resume_listener(_fd: i32): i32 { return EBADF; }
export function engine$remove_listener(_fd: i32): i32 { return EBADF; }
export function engine$add_conn(_fd: i32, _connecting: bool): i32 { return EBADF; }
export function engine$add_datagram(_fd: i32, _connected: bool): i32 { return EBADF; }
export function engine$run_once(_timeout: i32): usize { store<u32>(RET, 0); store<u32>(RET, 0, 4); return RET; }
export function engine$backlog(): u32 { return 0; }
export function engine$take_events(): usize { store<u32>(RET, 0); store<u32>(RET, 0, 4); return RET; }
export function engine$write(_conn: u32, _ptr: usize, _len: u32): i32 { return EBADF; }
export function engine$write_file(_conn: u32, _fileFd: i32, _offset: u64, _len: u32): i32 { return EBADF; }
export function engine$buffered_amount(_conn: u32): u32 { return 0; }
export function engine$close(_conn: u32, _cause: i32): i32 { return EBADF; }
export function engine$end(_conn: u32): i32 { return EBADF; }
export function engine$close_write(_conn: u32): i32 { return EBADF; }
export function engine$pause_reading(_conn: u32): i32 { return EBADF; }
export function engine$resume_reading(_conn: u32): i32 { return EBADF; }
export function engine$shutdown(): void {}
export function engine$conn_count(): u32 { return 0; }
export function engine$memory_in_use(): u32 { return 0; }
export function engine$stats(): usize { return 0; }
export function cabi_realloc(_old: usize, _oldSize: usize, _align: usize, size: usize): usize {
  return size <= 4096 ? SCRATCH : 0;
}
