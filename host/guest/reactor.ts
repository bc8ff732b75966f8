/**
 * The reactor as the host calls it across the boundary: the `sys` imports
 * a host provides (lowered), the `engine` exports it calls, where an
 * event's fields are in reactor memory, and the causes a `closed` event
 * carries. Loading an instance is host/poller/reactor-loader.ts.
 */
import { EventLayout, ListLayout, CloseCause as ReactorCloseCause, type ConnOrigin } from '../generated/abi.js';
import type { GuestMemory } from './memory.js';

/**
 * The `sys` imports in canonical-ABI ("lowered") form, keyed by their WIT
 * names: every parameter and result is an i32; list results are written to
 * a return area (see {@link GuestMemory.storeListResult}).
 */
export interface LoweredSys {
  'epoll-create'(): number;
  'epoll-ctl'(epfd: number, op: number, fd: number, events: number, token: number): number;
  'epoll-wait'(epfd: number, maxEvents: number, timeoutMs: number, ret: number): void;
  accept(fd: number): number;
  read(fd: number, maxLen: number, ret: number): void;
  write(fd: number, ptr: number, len: number): number;
  writev(fd: number, ptr: number, count: number): number;
  /** `offset` is a u64, so a BigInt. */
  'send-file'(fd: number, fileFd: number, offset: bigint, count: number): number;
  close(fd: number): number;
  'socket-error'(fd: number): number;
  'set-no-delay'(fd: number, on: number): number;
  shutdown(fd: number, how: number): number;
  'recv-from'(fd: number, maxLen: number, ret: number): void;
  'send-to'(fd: number, ptr: number, len: number, addrPtr: number, addrLen: number): number;
}

/**
 * The reactor's `engine` exports, called directly on the core module (the
 * fast path). Contracts are in wit/nbio-engine.wit; list results come back
 * as the address of an 8-byte {ptr, len} pair in reactor memory.
 */
export interface Reactor {
  init(
    readBufferSize: number, maxWriteBufferSize: number, maxReads: number, noDelay: number, maxMemory: number,
    edgeTriggered: number,
  ): number;
  addListener(fd: number): number;
  addAcceptor(fd: number): number;
  resumeListener(fd: number): number;
  removeListener(fd: number): number;
  addConn(fd: number, origin: ConnOrigin): number;
  addDatagram(fd: number, connected: number): number;
  runOnce(timeoutMs: number): number;
  backlog(): number;
  takeEvents(): number;
  write(conn: number, ptr: number, len: number): number;
  /** `offset` is a u64, so a BigInt. */
  writeFile(conn: number, fileFd: number, offset: bigint, len: number): number;
  bufferedAmount(conn: number): number;
  close(conn: number, cause: number): number;
  end(conn: number): number;
  closeWrite(conn: number): number;
  pauseReading(conn: number): number;
  resumeReading(conn: number): number;
  shutdown(): void;
  connCount(): number;
  memoryInUse(): number;
  /** The address of the `reactor-stats` record (see host/api/stats.ts); negative once the instance is dead (host/poller/fault.ts). */
  stats(): number;
}

/**
 * Causes of `closed` events that are not errnos (`status`): the
 * reactor's own (`close-cause` in the WIT), and the host's, which the WIT
 * leaves to hosts from 16 up.
 */
export const CloseCause = {
  ...ReactorCloseCause,
  /** The dial timed out. */
  DialTimeout: 16,
  /** The read deadline passed. */
  ReadTimeout: 17,
  /** The write deadline passed with bytes still queued. */
  WriteTimeout: 18,
  /** The connection stayed paused `pausedHangUpTimeout` after its peer hung up. */
  PausedHangUp: 19,
} as const;

/** A byte offset (a multiple of 4 in every layout read here) as an index into an Int32Array. */
function word(offset: number): number {
  if (offset % 4 !== 0) throw new Error(`nbio-wasm: offset ${offset} is not 32-bit aligned`);
  return offset / 4;
}

/**
 * Where the fields of an `event` record are, as indices into a 32-bit view
 * of reactor memory from the record's first word (its layout is generated
 * from the WIT: host/generated/abi.ts). `kind` is a u8: the low byte of
 * its word (Wasm memory is little-endian).
 */
export const EventWords = {
  size: word(EventLayout.size),
  kind: word(EventLayout.kind),
  conn: word(EventLayout.conn),
  status: word(EventLayout.status),
  detail: word(EventLayout.detail),
  dataPtr: word(EventLayout.data + ListLayout.ptr),
  dataLen: word(EventLayout.data + ListLayout.len),
} as const;

/** Where a list's {ptr, len} are, as indices into a 32-bit view from its first word. */
export const ListWords = { ptr: word(ListLayout.ptr), len: word(ListLayout.len) } as const;
