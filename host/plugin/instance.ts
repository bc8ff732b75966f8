/**
 * One instance of a plugin and the discipline of its calls (events): the
 * fuel of an event handed out in slices, its time limit, and the one way
 * every failure of the instance ends, wherever it happened.
 */
import type { Conn } from '../api/conn.js';
import { NbioError, withoutStack } from '../api/errors.js';
import { PluginExports } from '../generated/plugin.js';
import { GuestMemory } from '../guest/memory.js';
import { native } from '../sys/native.js';
import { checkRange, importObject, liftString, PluginViolation } from './abi.js';
import type { HandleSizes } from './handles.js';
import { HostFunctions, type HostServices } from './host-functions.js';
import { FUEL_GLOBAL, LIMIT_GLOBAL, MEMORY_LIMIT_HIT, START_EXPORT } from './metering.js';
import type { PluginModule } from './module.js';
import { STACK_BUDGET, STACK_LIMIT_HIT } from './stack-budget.js';
import { ThreadClock } from './thread-clock.js';

export { CloseReason } from '../generated/abi.js';

/** Fuel handed to a running event at a time: the event's time limit is checked between slices. */
const FUEL_SLICE = 1_000_000;
/**
 * Slices an event must have used before its time limit can stop it: a
 * pause that is not the plugin's doing (a garbage collection, say) uses no
 * fuel, so it cannot stop an event that does little on its own.
 */
const TIMED_AFTER_SLICES = 3;

/** Longest error message of `init` passed on, in characters. */
const MAX_INIT_ERROR = 200;

/** What an instance needs from the engine. */
export interface InstanceHost extends HostServices {
  /** Fuel for one event (one call into the plugin, with the host calls it makes). */
  readonly fuelPerEvent: number;
  /** Time limit of one event, in ms. */
  readonly timePerEvent: number;
  /** An event used more than a slice of fuel, and ran `ms` milliseconds from the end of its first slice. */
  ranLong(ms: number): void;
  /**
   * The instance failed: it trapped (ERR_NBIO_PLUGIN_TRAP) or hit a limit
   * (ERR_NBIO_PLUGIN_LIMIT), `err.cause` being what was thrown. Called once,
   * from inside the failing call; the instance is dead from then on.
   */
  failed(instance: PluginInstance, err: NbioError): void;
}

type Fn = (...args: number[]) => number;

/**
 * One instance of a plugin: its own memory, globals and resource table,
 * the failure domain. The engine calls it through the methods below, one
 * call at a time; each call is an event, with the fuel of one event
 * (`fuelPerEvent`, handed out in slices of {@link FUEL_SLICE}, the event's
 * time limit `timePerEvent` checked between them, see `#refuel`). If the
 * plugin traps, runs out of fuel or time, passes its memory or stack budget,
 * breaks the rules of its world, or anything throws inside a host
 * function it called, the instance is dead: nothing enters it again (the
 * component model's "no re-entry after a trap"), nothing it asked for in
 * that event is done (closes, ends), and {@link InstanceHost.failed} is
 * told, from where the call returned: with the engine's stack, whatever
 * depth the plugin had reached.
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
  readonly #calls: HostFunctions;
  #running = false;
  #dead = false;
  /**
   * Fuel of the event not handed out yet, slices it used, the time and the
   * thread's CPU time at the end of its first slice, and what stopped it
   * (if it was stopped).
   */
  #reserve = 0;
  #slices = 0;
  #wallAtFirstSlice = 0;
  #cpuAtFirstSlice = 0;
  /** The thread's CPU time (undefined where the system does not have it: the wall clock stands in). */
  #clock: ThreadClock | undefined = new ThreadClock();
  #stopped: 'fuel' | 'time' | undefined;
  /** Fuel used by all calls so far, and the number of calls. */
  fuelUsed = 0;
  events = 0;

  /**
   * Instantiates `plugin` (no plugin code runs until {@link init}). Throws
   * if instantiation fails. `handleSizes`: of its table of connections
   * (default: the most a handle can name).
   */
  constructor(plugin: PluginModule, host: InstanceHost, handleSizes?: HandleSizes) {
    this.#host = host;
    this.#maxMemory = plugin.maxMemory;
    this.#calls = new HostFunctions(this.#mem, host, handleSizes);
    const instance = new WebAssembly.Instance(plugin.module, importObject(this.#calls.lowered(), () => this.#refuel()));
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

  /**
   * The engine is done with the instance (it failed, or was dropped): its
   * memory's pages go back to the system now, rather than when V8 collects
   * the instance, which may be long after many more were created. Nothing
   * enters the instance again.
   */
  release(): void {
    this.#dead = true;
    this.#mem.sync();
    native.discard(this.#mem.buffer, 0, this.#mem.buffer.byteLength);
  }

  /**
   * Whether the instance can take no more connections, its handles being
   * spent by age (not by the plugin's fault): it can still serve those it
   * has (see HostFunctions.spent).
   */
  get spent(): boolean {
    return this.#calls.spent;
  }

  /** The open connections given to this instance. */
  connections(): Conn[] {
    return this.#calls.connections();
  }

  /** How many open connections were given to this instance (without listing them). */
  get openCount(): number {
    return this.#calls.openCount;
  }

  /** Whether `conn` was given to this instance and is open. */
  has(conn: Conn): boolean {
    return this.#calls.entryOf(conn) !== undefined;
  }

  /**
   * Runs the module's start function and `_initialize` (if any), then
   * `init(config)`, all on one event's fuel. Returns the error message the
   * plugin returned (control characters replaced, cut to a couple of
   * hundred characters), or undefined; if it trapped, the instance is dead.
   */
  init(config: Uint8Array): string | undefined {
    if (!this.#enter()) return undefined;
    try {
      this.#optional.start?.();
      this.#optional.initialize?.();
      const ptr = this.#calls.lowerBytes(config);
      const ret = this.#fn.init(ptr, config.length);
      const area = PluginExports.init.returnArea;
      checkRange(this.#mem, ret, area.size, 'the result of init');
      if (ret % area.align !== 0) throw new PluginViolation(`the result of init at ${ret} is not aligned to ${area.align} bytes`);
      const tag = this.#mem.u8[ret + area.discriminant];
      if (tag > area.error) throw new PluginViolation(`init returned an invalid result tag ${tag}`);
      const error = tag === area.error
        ? liftString(this.#mem, this.#mem.i32[(ret + area.errorPtr) >>> 2], this.#mem.i32[(ret + area.errorLen) >>> 2], 4 * MAX_INIT_ERROR)
        : undefined;
      this.#optional.initPost?.(ret);
      this.#leave();
      return error === undefined ? undefined : printable(error);
    } catch (err) {
      this.#fail('init', err);
      return undefined;
    }
  }

  /** Gives `conn` to the plugin (`on-open`). */
  open(conn: Conn): void {
    if (!this.#enter()) return;
    try {
      const entry = this.#calls.add(conn);
      entry.key = this.#fn.onOpen(entry.handle) >>> 0;
      this.#leave();
    } catch (err) {
      this.#fail('on-open', err);
    }
  }

  /** Bytes arrived on `conn` (`on-data`): copied into the plugin's memory, where its `cabi_realloc` says. */
  data(conn: Conn, bytes: Uint8Array): void {
    const entry = this.#calls.entryOf(conn);
    if (entry === undefined || !this.#enter()) return;
    try {
      const ptr = this.#calls.lowerBytes(bytes);
      this.#fn.onData(entry.key, ptr, bytes.length);
      this.#leave();
    } catch (err) {
      this.#fail('on-data', err);
    }
  }

  /** `conn` drained (`on-drain`). */
  drain(conn: Conn): void {
    const entry = this.#calls.entryOf(conn);
    if (entry === undefined || !this.#enter()) return;
    try {
      this.#fn.onDrain(entry.key);
      this.#leave();
    } catch (err) {
      this.#fail('on-drain', err);
    }
  }

  /** `conn` closed (`on-close`); its handle stays valid, doing nothing, until the plugin drops it. */
  close(conn: Conn, reason: number): void {
    const entry = this.#calls.closed(conn);
    if (entry === undefined || !this.#enter()) return;
    try {
      this.#fn.onClose(entry.key, reason);
      this.#leave();
    } catch (err) {
      this.#fail('on-close', err);
    }
  }

  /** Starts a call: false if the instance is dead; throws on re-entry; hands out the first slice of fuel. */
  #enter(): boolean {
    if (this.#dead) return false;
    if (this.#running) throw new Error('nbio-wasm: re-entrant call into a plugin instance refused');
    this.#running = true;
    this.#stopped = undefined;
    this.#slices = 0;
    const budget = this.#host.fuelPerEvent;
    const first = Math.min(budget, FUEL_SLICE);
    this.#reserve = budget - first;
    this.#fuel.value = first;
    return true;
  }

  /**
   * The module spent its slice of fuel (`__nbio.refuel`): hands out the
   * next one, or returns 0 (the module then traps) when the event's fuel is
   * used up, or it has run longer than `timePerEvent`.
   *
   * "Run" is the event's time on the thread, not merely the time since it
   * began: the thread may not be running at all for a while (the system
   * runs other processes), and a plugin must not be stopped for that. The
   * time is the CPU time the thread used from the end of the event's first
   * slice (thread-clock.ts); it is checked from the
   * {@link TIMED_AFTER_SLICES}th slice on. (No clock is read for an event
   * that uses less than a slice: most events.)
   */
  #refuel(): number {
    const fuel = this.#fuel.value as number;
    if (-fuel > this.#reserve) {
      this.#stopped = 'fuel';
      return 0;
    }
    const take = Math.min(this.#reserve, FUEL_SLICE - fuel);
    this.#reserve -= take;
    this.#fuel.value = fuel + take;
    const slices = ++this.#slices;
    if (slices === 1) {
      this.#wallAtFirstSlice = performance.now();
      if (this.#clock?.start() === false) this.#clock = undefined;
      this.#cpuAtFirstSlice = this.#cpuNow();
    } else if (slices >= TIMED_AFTER_SLICES && this.#cpuNow() - this.#cpuAtFirstSlice > this.#host.timePerEvent) {
      this.#stopped = 'time';
      return 0;
    }
    return 1;
  }

  /** An event that used more than a slice ended: the clock is closed, the host told how long it ran. */
  #endLong(): void {
    this.#clock?.stop();
    this.#host.ranLong(performance.now() - this.#wallAtFirstSlice);
  }

  /** The thread's CPU time in ms, or the wall clock where the system does not tell it. */
  #cpuNow(): number {
    return this.#clock === undefined ? performance.now() : this.#clock.now();
  }

  /** Ends a call that returned: does what the plugin asked for, accounts its fuel and time, checks the memory. */
  #leave(): void {
    this.#running = false;
    if (this.#slices > 0) this.#endLong();
    this.fuelUsed += this.#host.fuelPerEvent - this.#reserve - (this.#fuel.value as number);
    this.events++;
    this.#calls.endOfEvent();
    this.#mem.sync();
    if (this.#mem.u8.length > this.#maxMemory) this.#fail('a call', new PluginViolation('its memory is larger than maxMemory'));
  }

  /** The call threw: the instance is dead; tells the host why. */
  #fail(where: string, thrown: unknown): void {
    this.#running = false;
    this.#dead = true;
    if (this.#slices > 0) this.#endLong();
    this.#calls.discardEvent();
    const fuel = this.#fuel.value as number;
    this.fuelUsed += this.#host.fuelPerEvent - this.#reserve - Math.max(fuel, 0);
    this.events++;
    const { code, why } = this.#why(thrown);
    const err = withoutStack(() => new NbioError(code, `plugin instance failed in ${where}: ${why}`));
    err.cause = thrown;
    this.#host.failed(this, err);
  }

  /** What made a call fail, from what it threw and what the instrumentation and {@link #refuel} noted. */
  #why(thrown: unknown): { code: 'ERR_NBIO_PLUGIN_TRAP' | 'ERR_NBIO_PLUGIN_LIMIT'; why: string } {
    const limit = this.#limit.value as number;
    if (limit === MEMORY_LIMIT_HIT) {
      return { code: 'ERR_NBIO_PLUGIN_LIMIT', why: `its memory and tables would grow past maxMemory (${this.#maxMemory} bytes)` };
    }
    if (limit === STACK_LIMIT_HIT) {
      return { code: 'ERR_NBIO_PLUGIN_TRAP', why: `stack overflow (its calls passed the stack budget of ${STACK_BUDGET} bytes)` };
    }
    if (this.#stopped === 'fuel') return { code: 'ERR_NBIO_PLUGIN_LIMIT', why: `it ran out of fuel (fuelPerEvent: ${this.#host.fuelPerEvent})` };
    if (this.#stopped === 'time') {
      return { code: 'ERR_NBIO_PLUGIN_LIMIT', why: `it ran longer than timePerEvent (${this.#host.timePerEvent} ms)` };
    }
    if (thrown instanceof PluginViolation) {
      return { code: thrown.message.includes('maxMemory') ? 'ERR_NBIO_PLUGIN_LIMIT' : 'ERR_NBIO_PLUGIN_TRAP', why: thrown.message };
    }
    if (thrown instanceof RangeError) return { code: 'ERR_NBIO_PLUGIN_TRAP', why: `stack overflow (${thrown.message})` };
    if (thrown instanceof WebAssembly.RuntimeError) return { code: 'ERR_NBIO_PLUGIN_TRAP', why: `it trapped: ${thrown.message}` };
    const what = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
    return { code: 'ERR_NBIO_PLUGIN_TRAP', why: `a host function it called failed (${what})` };
  }
}

/** `text` without control characters (each becomes U+FFFD), cut to {@link MAX_INIT_ERROR} characters. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
  return clean.length > MAX_INIT_ERROR ? `${clean.slice(0, MAX_INIT_ERROR)}…` : clean;
}
