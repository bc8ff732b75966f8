import { formatAddress } from '../address.js';
import { ConnState, type Conn } from '../conn.js';
import { NbioError, withoutStack } from '../errors.js';
import { CloseReason, Level } from '../generated/abi.js';
import { GuestMemory } from '../guest-memory.js';
import { checkRange, importObject, liftString, lowerString, PluginViolation, type LoweredImports } from './abi.js';
import { HandleTable } from './handles.js';
import { FUEL_GLOBAL, LIMIT_GLOBAL, START_EXPORT } from './metering.js';
import type { PluginModule } from './module.js';

export { CloseReason } from '../generated/abi.js';

/** `host.level`, as the application's `log` receives it: the case's name in lower case. */
export type LogLevel = Lowercase<keyof typeof Level>;
/** The names of `host.level` cases, by their number. */
const LEVELS: readonly LogLevel[] = Object.entries(Level).reduce<LogLevel[]>((names, [name, n]) => {
  names[n] = name.toLowerCase() as LogLevel;
  return names;
}, []);
/** Longest log message passed on, in bytes; longer ones are cut. */
const MAX_LOG_BYTES = 4096;

/** What an instance needs from the engine. */
export interface InstanceHost {
  /** Fuel for one event (one call into the plugin, with the host calls it makes). */
  readonly fuelPerEvent: number;
  /** Most bytes a connection may have queued: `write` takes no more. */
  readonly writeQueueLimit: number;
  log(level: LogLevel, message: string): void;
  /**
   * The instance the engine gave `conn` to: the owner check every host
   * function makes, on the engine's own record rather than the instance's
   * table (defence in depth against a bug in the table).
   */
  owner(conn: Conn): PluginInstance | undefined;
  /**
   * The instance failed: it trapped (ERR_NBIO_PLUGIN_TRAP) or hit a limit
   * (ERR_NBIO_PLUGIN_LIMIT), `err.cause` being what was thrown. Called once,
   * from inside the failing call; the instance is dead from then on.
   */
  failed(instance: PluginInstance, err: NbioError): void;
}

type Fn = (...args: number[]) => number;

/** A handle whose connection closed: still valid (until dropped), its methods do nothing. */
const CLOSED = 'closed';

/**
 * One instance of a plugin: its own memory, globals and resource table,
 * the failure domain. The engine calls it through the methods below, one
 * call at a time; each call gets the fuel of one event and, if the plugin
 * traps, runs out of fuel or breaks the rules of its world, the instance is
 * dead: nothing enters it again (the component model's "no re-entry after a
 * trap"), and {@link InstanceHost.failed} is told.
 *
 * Calls for connections the instance was not given, and calls to a dead
 * instance, do nothing. A call made while another one runs (re-entry) is
 * refused with an exception: the engine never does that.
 */
export class PluginInstance {
  readonly #host: InstanceHost;
  readonly #mem = new GuestMemory();
  readonly #fuel: WebAssembly.Global;
  readonly #limit: WebAssembly.Global;
  readonly #maxMemory: number;
  readonly #fn: Record<'init' | 'onOpen' | 'onData' | 'onDrain' | 'onClose', Fn>;
  readonly #optional: { initPost?: Fn; initialize?: Fn; start?: Fn };
  readonly #handles = new HandleTable<Conn | typeof CLOSED>();
  /** The open connections given to this instance: the plugin's key and handle for each. */
  readonly #open = new Map<Conn, { key: number; handle: number }>();
  #running = false;
  #dead = false;
  /** Fuel used by all calls so far, and the number of calls. */
  fuelUsed = 0;
  events = 0;

  /** Instantiates `plugin` (no plugin code runs until {@link init}). Throws if instantiation fails. */
  constructor(plugin: PluginModule, host: InstanceHost) {
    this.#host = host;
    this.#maxMemory = plugin.maxMemory;
    const instance = new WebAssembly.Instance(plugin.module, importObject(this.#imports()));
    const x = instance.exports as Record<string, unknown>;
    const ex = plugin.exports;
    const fn = (name: string | undefined) => (name === undefined ? undefined : (x[name] as Fn));
    this.#fn = {
      init: fn(ex.init)!, onOpen: fn(ex.onOpen)!, onData: fn(ex.onData)!, onDrain: fn(ex.onDrain)!, onClose: fn(ex.onClose)!,
    };
    this.#optional = { initPost: fn(ex.initPost), initialize: fn(ex.initialize), start: plugin.hasStart ? fn(START_EXPORT) : undefined };
    this.#fuel = x[FUEL_GLOBAL] as WebAssembly.Global;
    this.#limit = x[LIMIT_GLOBAL] as WebAssembly.Global;
    this.#mem.attach(x[ex.memory!] as WebAssembly.Memory, fn(ex.realloc)!);
  }

  /** True once the instance failed. */
  get dead(): boolean {
    return this.#dead;
  }

  /** The open connections given to this instance. */
  connections(): Conn[] {
    return [...this.#open.keys()];
  }

  /** Whether `conn` was given to this instance and is open. */
  has(conn: Conn): boolean {
    return this.#open.has(conn);
  }

  /**
   * Runs the module's start function and `_initialize` (if any), then
   * `init(config)`, all on one event's fuel. Returns the error message the
   * plugin returned, or undefined; if it trapped, the instance is dead.
   */
  init(config: Uint8Array): string | undefined {
    if (!this.#enter()) return undefined;
    try {
      this.#optional.start?.();
      this.#optional.initialize?.();
      const ptr = this.#lowerBytes(config);
      const ret = this.#fn.init(ptr, config.length);
      checkRange(this.#mem, ret, 12, 'the result of init');
      if (ret % 4 !== 0) throw new PluginViolation(`the result of init at ${ret} is not aligned to 4 bytes`);
      const tag = this.#mem.u8[ret];
      if (tag > 1) throw new PluginViolation(`init returned an invalid result tag ${tag}`);
      const w = ret >>> 2;
      const error = tag === 1 ? liftString(this.#mem, this.#mem.i32[w + 1], this.#mem.i32[w + 2], MAX_LOG_BYTES) : undefined;
      this.#optional.initPost?.(ret);
      this.#leave();
      return error;
    } catch (err) {
      this.#fail('init', err);
      return undefined;
    }
  }

  /** Gives `conn` to the plugin (`on-open`). */
  open(conn: Conn): void {
    if (!this.#enter()) return;
    try {
      const handle = this.#handles.insert(conn);
      if (handle === 0) throw new PluginViolation('its table is full: it does not drop the handles of closed connections');
      const entry = { key: 0, handle };
      this.#open.set(conn, entry);
      entry.key = this.#fn.onOpen(handle) >>> 0;
      this.#leave();
    } catch (err) {
      this.#fail('on-open', err);
    }
  }

  /** Bytes arrived on `conn` (`on-data`): copied into the plugin's memory, where its `cabi_realloc` says. */
  data(conn: Conn, bytes: Uint8Array): void {
    const entry = this.#open.get(conn);
    if (entry === undefined || !this.#enter()) return;
    try {
      const ptr = this.#lowerBytes(bytes);
      this.#fn.onData(entry.key, ptr, bytes.length);
      this.#leave();
    } catch (err) {
      this.#fail('on-data', err);
    }
  }

  /** `conn` drained (`on-drain`). */
  drain(conn: Conn): void {
    const entry = this.#open.get(conn);
    if (entry === undefined || !this.#enter()) return;
    try {
      this.#fn.onDrain(entry.key);
      this.#leave();
    } catch (err) {
      this.#fail('on-drain', err);
    }
  }

  /** `conn` closed (`on-close`); its handle stays valid, doing nothing, until the plugin drops it. */
  close(conn: Conn, reason: CloseReason): void {
    const entry = this.#open.get(conn);
    if (entry === undefined) return;
    this.#open.delete(conn);
    this.#handles.set(entry.handle, CLOSED);
    if (!this.#enter()) return;
    try {
      this.#fn.onClose(entry.key, reason);
      this.#leave();
    } catch (err) {
      this.#fail('on-close', err);
    }
  }

  /** Starts a call: false if the instance is dead; throws on re-entry; sets the fuel. */
  #enter(): boolean {
    if (this.#dead) return false;
    if (this.#running) throw new Error('nbio-wasm: re-entrant call into a plugin instance refused');
    this.#running = true;
    this.#fuel.value = this.#host.fuelPerEvent;
    return true;
  }

  /** Ends a call that returned: accounts its fuel, checks the memory cap. */
  #leave(): void {
    this.#running = false;
    this.fuelUsed += this.#host.fuelPerEvent - (this.#fuel.value as number);
    this.events++;
    this.#mem.sync();
    if (this.#mem.u8.length > this.#maxMemory) this.#fail('a call', new PluginViolation('its memory is larger than maxMemory'));
  }

  /** The call threw: the instance is dead; tells the host why. */
  #fail(where: string, thrown: unknown): void {
    this.#running = false;
    this.#dead = true;
    const fuel = this.#fuel.value as number;
    this.fuelUsed += this.#host.fuelPerEvent - Math.max(fuel, 0);
    this.events++;
    let code: 'ERR_NBIO_PLUGIN_TRAP' | 'ERR_NBIO_PLUGIN_LIMIT' = 'ERR_NBIO_PLUGIN_TRAP';
    let why: string;
    if (this.#limit.value === 1) {
      code = 'ERR_NBIO_PLUGIN_LIMIT';
      why = `its memory would grow past maxMemory (${this.#maxMemory} bytes)`;
    } else if (fuel < 0) {
      code = 'ERR_NBIO_PLUGIN_LIMIT';
      why = `it ran out of fuel (fuelPerEvent: ${this.#host.fuelPerEvent})`;
    } else if (thrown instanceof PluginViolation) {
      why = thrown.message;
      if (thrown.message.includes('maxMemory')) code = 'ERR_NBIO_PLUGIN_LIMIT';
    } else if (thrown instanceof RangeError) {
      why = `stack overflow (${thrown.message})`;
    } else {
      why = `it trapped: ${(thrown as Error)?.message ?? String(thrown)}`;
    }
    const err = withoutStack(() => new NbioError(code, `plugin instance failed in ${where}: ${why}`));
    err.cause = thrown;
    this.#host.failed(this, err);
  }

  /** Copies bytes into memory from the plugin's `cabi_realloc`; returns where. */
  #lowerBytes(bytes: Uint8Array): number {
    const mem = this.#mem;
    const ptr = mem.alloc(1, bytes.length);
    checkRange(mem, ptr, bytes.length, 'memory from cabi_realloc');
    mem.u8.set(bytes, ptr);
    return ptr;
  }

  /**
   * The open connection `handle` names, or undefined if it closed. A handle
   * that names nothing in this instance's table (dropped, forged), or a
   * connection this instance was not given, traps.
   */
  #conn(handle: number): Conn | undefined {
    const value = this.#handles.get(handle);
    if (value === undefined) throw new PluginViolation(`handle ${handle >>> 0} names no connection of this plugin instance (dropped, or never given)`);
    if (value === CLOSED) return undefined;
    if (this.#host.owner(value) !== this) throw new PluginViolation(`handle ${handle >>> 0} names a connection that was not given to this plugin instance`);
    return value;
  }

  /** The lowered host functions (contracts in wit/nbio-plugin.wit). */
  #imports(): LoweredImports {
    return {
      write: (self, ptr, len) => this.#write(self, ptr >>> 0, len >>> 0),
      end: (self) => this.#conn(self)?.end(),
      close: (self) => this.#conn(self)?.close(),
      pause: (self) => this.#conn(self)?.pause(),
      resume: (self) => this.#conn(self)?.resume(),
      localAddress: (self, ret) => this.#address(self, ret >>> 0, 'local'),
      remoteAddress: (self, ret) => this.#address(self, ret >>> 0, 'remote'),
      drop: (self) => this.#drop(self),
      log: (level, ptr, len) => this.#log(level, ptr >>> 0, len >>> 0),
    };
  }

  /** `write`: takes what fits in the connection's queue (up to writeQueueLimit bytes queued). */
  #write(handle: number, ptr: number, len: number): number {
    checkRange(this.#mem, ptr, len, 'the data to write');
    const conn = this.#conn(handle);
    if (conn === undefined || conn.state !== ConnState.Open) return 0;
    const limit = this.#host.writeQueueLimit;
    let taken = 0;
    while (taken < len && conn.state === ConnState.Open) {
      const room = limit - conn.bufferedAmount;
      if (room <= 0) break;
      const n = Math.min(len - taken, room);
      this.#mem.sync();
      conn.write(this.#mem.u8.subarray(ptr + taken, ptr + taken + n));
      taken += n;
    }
    return taken | 0;
  }

  #address(handle: number, ret: number, side: 'local' | 'remote'): void {
    const conn = this.#conn(handle);
    const info = conn === undefined ? undefined : side === 'local' ? conn.localAddr : conn.remoteAddr;
    lowerString(this.#mem, info === undefined ? '' : formatAddress(info), ret);
  }

  /** `[resource-drop]connection`: the handle is gone; an open connection closes. */
  #drop(handle: number): void {
    const conn = this.#conn(handle);
    this.#handles.remove(handle);
    conn?.close();
  }

  #log(level: number, ptr: number, len: number): void {
    if (level < 0 || level >= LEVELS.length) throw new PluginViolation(`log level ${level} is not a host.level`);
    this.#host.log(LEVELS[level], liftString(this.#mem, ptr, len, MAX_LOG_BYTES));
  }
}
