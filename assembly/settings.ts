/**
 * The poller's settings, fixed by `init` (reactor.ts), and its epoll
 * descriptor: read by every part of the reactor, written only by `init`
 * and `shutdown`.
 */
import { EPOLLET } from "./constants";

let pollFd: i32 = -1;
let readSize: u32 = 0;
let writeLimit: u32 = 0;
let readsPerReport: u32 = 1;
let noDelayOn: bool = false;
let edge: bool = false;

export function configure(rbs: u32, maxWb: u32, reads: u32, noDelay: bool, edgeTriggered: bool): void {
  readSize = rbs;
  writeLimit = maxWb;
  readsPerReport = reads;
  noDelayOn = noDelay;
  edge = edgeTriggered;
}

export function setEpollFd(fd: i32): void { pollFd = fd; }

/** The epoll descriptor; -1 before `init` and after `shutdown`. */
@inline export function epollFd(): i32 { return pollFd; }
/** Largest single read (bytes). */
@inline export function readBufferSize(): u32 { return readSize; }
/** Most bytes a connection may hold queued; 0: no limit. */
@inline export function maxWriteBufferSize(): u32 { return writeLimit; }
/** Whether accepted and added TCP connections get TCP_NODELAY. */
@inline export function noDelay(): bool { return noDelayOn; }
/** Whether connections are registered edge-triggered. */
@inline export function edgeTriggered(): bool { return edge; }
/** EPOLLET in edge-triggered mode, else 0. */
@inline export function triggerBits(): u32 { return edge ? EPOLLET : 0; }
/** Most reads per connection per readiness report: the setting when
 *  level-triggered; no limit when edge-triggered, which must read until the
 *  socket is empty since no new report comes for bytes already there. */
@inline export function readLimit(): u32 { return edge ? u32.MAX_VALUE : readsPerReport; }
