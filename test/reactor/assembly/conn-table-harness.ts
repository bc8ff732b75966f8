// Test entry points around the real assembly/conn-table.ts.
import {
  FLAG_ACCEPTOR, FLAG_DATAGRAM, FLAG_DRAINING, FLAG_ENDING, FLAG_NOT_TCP, FLAG_OUT, FLAG_PARKED, FLAG_PAUSED,
  FLAG_PEER_ENDED, FLAG_PEER_FIRST, FLAG_READ_PAUSED, FLAG_SHUT_WR,
  STATE_CONNECTING, STATE_LISTENER, STATE_OPEN,
  ctCapacity, ctEnsure, ctHandle, ctLiveConns, ctLookup, ctOpen, ctRelease, ctSlot,
  slotFlags, slotQueue, slotSetFlags, slotState,
} from "../../../assembly/conn-table";
import { wbAppend, wbBytes } from "../../../assembly/write-buffer";
import { heapAlloc, heapFree } from "../../../assembly/heap";

export const LISTENER: i32 = STATE_LISTENER;
export const CONNECTING: i32 = STATE_CONNECTING;
export const OPEN: i32 = STATE_OPEN;

// The slot flags, by the kind of slot they are for.
export const SHARED_OUT: i32 = FLAG_OUT;
export const SHARED_DATAGRAM: i32 = FLAG_DATAGRAM;
export const LISTENER_PAUSED: i32 = FLAG_PAUSED;
export const LISTENER_ACCEPTOR: i32 = FLAG_ACCEPTOR;
export const LISTENER_DRAINING: i32 = FLAG_DRAINING;
export const LISTENER_NOT_TCP: i32 = FLAG_NOT_TCP;
export const CONN_PEER_FIRST: i32 = FLAG_PEER_FIRST;
export const CONN_ENDING: i32 = FLAG_ENDING;
export const CONN_READ_PAUSED: i32 = FLAG_READ_PAUSED;
export const CONN_PARKED: i32 = FLAG_PARKED;
export const CONN_PEER_ENDED: i32 = FLAG_PEER_ENDED;
export const CONN_SHUT_WR: i32 = FLAG_SHUT_WR;

/** Sets `flags` on fd's slot and reads them back with its state. */
export function flagsRoundTrip(fd: i32, flags: i32): i32 {
  const s = ctSlot(fd);
  slotSetFlags(s, <u16>flags);
  return (<i32>slotFlags(s) << 8) | <i32>slotState(s);
}

export function ensure(fd: i32): bool { return ctEnsure(fd) == 0; }
export function capacity(): i32 { return ctCapacity(); }
export function open(fd: i32, state: u8): u32 { return ctOpen(fd, state); }
export function release(fd: i32): void { ctRelease(fd); }
export function handle(fd: i32): u32 { return ctHandle(fd); }
export function lookup(h: u32): usize { return ctLookup(h); }
export function slot(fd: i32): usize { return ctSlot(fd); }
export function state(fd: i32): i32 { return slotState(ctSlot(fd)); }
export function live(): i32 { return ctLiveConns(); }
export function memPages(): i32 { return memory.size(); }

/** Queues `n` bytes on fd's write queue (to check release frees them). */
export function queueBytes(fd: i32, n: u32): void {
  const tmp = heapAlloc(<usize>n);
  wbAppend(slotQueue(ctSlot(fd)), tmp, n);
  heapFree(tmp);
}
export function queued(fd: i32): u32 { return wbBytes(slotQueue(ctSlot(fd))); }
