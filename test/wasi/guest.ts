// The WASI build of the reactor (dist/wasm/reactor-wasi.core.wasm: engine
// + net exports, sys = assembly/sys/wasi.ts) instantiated over the
// in-memory FakeWasi, with the exports wrapped for tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AddressResultLayout, EventKind, FD_MASK, ListLayout } from '../../host/generated/abi.js';
import { readEvents, type ReactorEvent } from '../reactor/reactor-events.js';
import { root } from './commands.js';
import { FakeWasi } from './fake-wasi.js';

const coreModule = new WebAssembly.Module(readFileSync(join(root, 'dist', 'wasm', 'reactor-wasi.core.wasm')));
const ENGINE = 'nbio:engine/engine@0.1.0#';
const NET = 'nbio:engine/net@0.1.0#';

export type Ev = ReactorEvent;
export const Kind = EventKind;
export const fdOf = (handle: number) => handle & FD_MASK;

export class WasiGuest {
  readonly wasi = new FakeWasi();
  readonly x: Record<string, (...args: number[]) => number>;
  readonly memory: WebAssembly.Memory;

  constructor(readBufferSize = 4096, maxWriteBufferSize = 0, maxReads = 3) {
    const instance = new WebAssembly.Instance(coreModule, this.wasi.imports());
    this.wasi.attach(instance);
    this.x = instance.exports as never;
    this.memory = instance.exports.memory as WebAssembly.Memory;
    const epfd = this.engine('init', readBufferSize, maxWriteBufferSize, maxReads, 0, 0);
    if (epfd < 0) throw new Error(`init failed: ${epfd}`);
  }

  engine(name: string, ...args: number[]): number {
    return this.x[ENGINE + name](...args);
  }

  /** Copies `bytes` into guest memory (as a host lowering a list does). */
  #bytes(bytes: Uint8Array): [number, number] {
    const p = this.x.cabi_realloc(0, 0, 1, bytes.length);
    new Uint8Array(this.memory.buffer).set(bytes, p);
    return [p, bytes.length];
  }

  listen(address: string, backlog = 0): number {
    return this.x[NET + 'listen'](...this.#bytes(new TextEncoder().encode(address)), backlog);
  }

  dial(address: string): number {
    return this.x[NET + 'dial'](...this.#bytes(new TextEncoder().encode(address)));
  }

  /** `net.local-address` / `remote-address`: the text, or the negated errno. */
  address(fd: number, remote = false): string | number {
    const ret = this.x[NET + (remote ? 'remote-address' : 'local-address')](fd);
    const dv = new DataView(this.memory.buffer);
    const payload = ret + AddressResultLayout.payload;
    if (dv.getUint8(ret) !== AddressResultLayout.address) return dv.getInt32(payload, true);
    const ptr = dv.getUint32(payload + ListLayout.ptr, true);
    return new TextDecoder().decode(new Uint8Array(this.memory.buffer, ptr, dv.getUint32(payload + ListLayout.len, true)));
  }

  /** A listener on 127.0.0.1 (any port) handed to the reactor; returns {fd, port}. */
  listener(): { fd: number; port: number } {
    const fd = this.listen('127.0.0.1:0');
    if (fd < 0) throw new Error(`listen failed: ${fd}`);
    if (this.engine('add-listener', fd) !== 0) throw new Error('add-listener failed');
    return { fd, port: Number(String(this.address(fd)).split(':')[1]) };
  }

  events(ret: number): Ev[] {
    return readEvents(this.memory.buffer, ret);
  }

  runOnce(timeoutMs = 0): Ev[] {
    return this.events(this.engine('run-once', timeoutMs));
  }

  takeEvents(): Ev[] {
    return this.events(this.engine('take-events'));
  }

  write(conn: number, bytes: Uint8Array): number {
    return this.engine('write', conn, ...this.#bytes(bytes));
  }
}
