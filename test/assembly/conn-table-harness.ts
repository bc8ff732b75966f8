// Test entry points around the real assembly/conn-table.ts.
import {
  STATE_CONNECTING, STATE_LISTENER, STATE_OPEN,
  ctCapacity, ctEnsure, ctHandle, ctLiveConns, ctLookup, ctOpen, ctRelease, ctSlot,
  slotQueue, slotState,
} from "../../assembly/conn-table";
import { wbAppend, wbBytes } from "../../assembly/write-buffer";
import { heapAlloc, heapFree } from "../../assembly/heap";

export const LISTENER: i32 = STATE_LISTENER;
export const CONNECTING: i32 = STATE_CONNECTING;
export const OPEN: i32 = STATE_OPEN;

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
