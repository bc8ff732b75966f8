/**
 * The host functions a plugin instance imports (`conn` and `host` of
 * wit/nbio-plugin.wit), lowered to the canonical ABI, and the instance's
 * table of the connections it was given.
 *
 * What the plugin asks for that ends a connection (`close`, `end`,
 * dropping the handle) is done when the event returns, so that nothing a
 * plugin does takes effect if the same event then fails (the failure
 * closes every connection of the instance, each with the failure); from
 * the call on, within the event, the connection behaves as closed (or
 * ending) for the plugin: `write` returns 0, a closed one's addresses are
 * empty. Writes, pauses and resumes take effect at once.
 *
 * As in the component model, the host functions may not be called while
 * the host is inside the plugin's `cabi_realloc` (lowering a value): such
 * a call traps.
 */
import { formatAddress } from '../api/address.js';
import { ConnState, type Conn } from '../api/conn.js';
import type { LogLevel } from '../api/plugin-options.js';
import { Level } from '../generated/abi.js';
import { PluginImports } from '../generated/plugin.js';
import type { GuestMemory } from '../guest/memory.js';
import { checkRange, liftString, lowerString, PluginViolation, type LoweredImports } from './abi.js';
import { HANDLE_SIZES, HandleTable, type HandleSizes } from './handles.js';

/** The names of `host.level` cases, by their number. */
const LEVELS: readonly LogLevel[] = Object.entries(Level).reduce<LogLevel[]>((names, [name, n]) => {
  names[n] = name.toLowerCase() as LogLevel;
  return names;
}, []);
/** Most bytes of a log message the host reads; the rest is cut. */
const MAX_LOG_BYTES = 4096;

/** What the host functions need from the engine. */
export interface HostServices {
  /** Most bytes a connection may have queued: `write` takes no more. */
  readonly writeQueueLimit: number;
  log(level: LogLevel, message: string): void;
  /** The plugin paused reading `conn`, or resumed it. */
  pause(conn: Conn): void;
  resume(conn: Conn): void;
}

/**
 * A connection given to the instance: its handle, the plugin's key, and
 * what became of it. While the connection is open, `conn.plugin` names
 * this entry: the engine's own record of which instance serves it.
 */
export class ConnEntry {
  /** What the plugin asked for in the current event: done when it returns. */
  asked: 'end' | 'close' | undefined = undefined;
  /** Its handle in the instance's table (set once, as it is given). */
  handle = 0;
  /** What the plugin's `on-open` returned: the connection's key in its events. */
  key = 0;
  /** Its place in the instance's list of open connections; -1 once its on-close came. */
  index: number;

  constructor(readonly conn: Conn, index: number) {
    this.index = index;
  }

  /** Its on-close came: the handle stays valid until dropped, its methods do nothing. */
  get closed(): boolean {
    return this.index < 0;
  }
}

/** The `code` of an error an engine call threw. */
function codeOf(err: unknown): string | undefined {
  return (err as { code?: string } | undefined)?.code;
}

export class HostFunctions {
  readonly #mem: GuestMemory;
  readonly #host: HostServices;
  readonly #handles: HandleTable<ConnEntry>;
  /**
   * The open connections given to the instance, each entry at its `index`:
   * an array rather than a map from connections, since each connection
   * names its entry itself (`conn.plugin`).
   */
  readonly #open: ConnEntry[] = [];
  /** Connections the plugin asked to close or end in the current event. */
  readonly #asked: ConnEntry[] = [];
  /** Set while the host is in the plugin's `cabi_realloc`: no host function may be called then. */
  #lowering = false;

  /** `handleSizes`: of the instance's table of connections. */
  constructor(mem: GuestMemory, host: HostServices, handleSizes: HandleSizes = HANDLE_SIZES) {
    this.#mem = mem;
    this.#host = host;
    this.#handles = new HandleTable(handleSizes);
  }

  /**
   * Whether the table has no handle left to give, though the plugin holds
   * fewer than it can: its slots served all their generations (see
   * handles.ts). Not the plugin's doing: the instance can serve only the
   * connections it has.
   */
  get spent(): boolean {
    return this.#handles.spent;
  }

  connections(): Conn[] {
    return this.#open.map((entry) => entry.conn);
  }

  /** How many open connections were given to the instance. */
  get openCount(): number {
    return this.#open.length;
  }

  /** The entry of `conn` if it is open and was given to this instance. */
  entryOf(conn: Conn): ConnEntry | undefined {
    const entry = conn.plugin;
    return entry instanceof ConnEntry && this.#isOpen(entry) ? entry : undefined;
  }

  /**
   * Gives `conn` a handle in the instance's table. Traps when the plugin
   * holds as many handles as the table can; throws (a bug of the engine's)
   * when the table is {@link spent}: the engine gives such an instance no
   * more connections.
   */
  add(conn: Conn): ConnEntry {
    const entry = new ConnEntry(conn, this.#open.length);
    entry.handle = this.#handles.insert(entry);
    if (entry.handle === 0) throw this.#tableRefusal();
    this.#open.push(entry);
    conn.plugin = entry;
    return entry;
  }

  /** `conn` closed: its entry, if the instance had it open; its handle does nothing from now on. */
  closed(conn: Conn): ConnEntry | undefined {
    const entry = this.entryOf(conn);
    if (entry === undefined) return undefined;
    const last = this.#open.pop()!;
    if (last !== entry) {
      this.#open[entry.index] = last;
      last.index = entry.index;
    }
    entry.index = -1;
    conn.plugin = undefined;
    return entry;
  }

  /** Copies bytes into memory from the plugin's `cabi_realloc`; returns where. */
  lowerBytes(bytes: Uint8Array): number {
    const mem = this.#mem;
    const ptr = this.#alloc(bytes.length);
    checkRange(mem, ptr, bytes.length, 'memory from cabi_realloc');
    mem.u8.set(bytes, ptr);
    return ptr;
  }

  /** The event returned: the closes and ends it asked for are done. */
  endOfEvent(): void {
    if (this.#asked.length === 0) return;
    for (const entry of this.#asked.splice(0)) {
      if (entry.closed) continue;
      if (entry.asked === 'close') entry.conn.close();
      else entry.conn.end();
    }
  }

  /** The event failed: what it asked for is forgotten (the failure closes every connection). */
  discardEvent(): void {
    this.#asked.length = 0;
  }

  /** The lowered host functions (contracts in wit/nbio-plugin.wit), each refusing a call from `cabi_realloc`. */
  lowered(): LoweredImports {
    // Plain parameters, no rest array: `write` runs for every message a plugin sends.
    return {
      write: (self, ptr, len) => {
        this.#mayLeave();
        return this.#write(self, ptr >>> 0, len >>> 0);
      },
      end: (self) => {
        this.#mayLeave();
        this.#ask(this.#entry(self), 'end');
      },
      close: (self) => {
        this.#mayLeave();
        this.#ask(this.#entry(self), 'close');
      },
      pause: (self) => {
        this.#mayLeave();
        const entry = this.#entry(self);
        if (this.#live(entry)) this.#host.pause(entry.conn);
      },
      resume: (self) => {
        this.#mayLeave();
        const entry = this.#entry(self);
        if (this.#live(entry)) this.#host.resume(entry.conn);
      },
      localAddress: (self, ret) => {
        this.#mayLeave();
        this.#address(self, ret >>> 0, 'local');
      },
      remoteAddress: (self, ret) => {
        this.#mayLeave();
        this.#address(self, ret >>> 0, 'remote');
      },
      drop: (self) => {
        this.#mayLeave();
        this.#drop(self);
      },
      log: (level, ptr, len) => {
        this.#mayLeave();
        this.#log(level, ptr >>> 0, len >>> 0);
      },
    };
  }

  /** Why the table gave no handle. */
  #tableRefusal(): Error {
    const table = this.#handles;
    if (!table.full) return new Error('nbio-wasm: a connection was given to a plugin instance whose handles are spent');
    const kept = table.size - this.#open.length;
    return new PluginViolation(`it holds ${table.size} handles at once, the most one instance can: ${kept === 0
      ? 'each of an open connection'
      : `${kept} of them of closed connections, which it did not drop`}`);
  }

  /** Traps a host call made from `cabi_realloc`. */
  #mayLeave(): void {
    if (this.#lowering) throw new PluginViolation('it called a host function from cabi_realloc');
  }

  /** `cabi_realloc`, with host calls refused meanwhile (a trap in it ends the instance: the flag need not be reset then). */
  #alloc(size: number): number {
    this.#lowering = true;
    const ptr = this.#mem.alloc(1, size);
    this.#lowering = false;
    return ptr;
  }

  /** Whether `entry` is in this instance's list of open connections. */
  #isOpen(entry: ConnEntry): boolean {
    return this.#open[entry.index] === entry;
  }

  /**
   * The entry `handle` names. A handle that names nothing in this
   * instance's table (dropped, forged), or a connection this instance was
   * not given, traps. The owner check is made on records apart from the
   * table (defence in depth against a bug in it): the connection must name
   * this very entry (`conn.plugin`), and the entry be in this instance's
   * list of open connections.
   */
  #entry(handle: number): ConnEntry {
    const entry = this.#handles.get(handle);
    if (entry === undefined) throw new PluginViolation(`handle ${handle >>> 0} names no connection of this plugin instance (dropped, or never given)`);
    if (!entry.closed && (entry.conn.plugin !== entry || !this.#isOpen(entry))) {
      throw new PluginViolation(`handle ${handle >>> 0} names a connection that was not given to this plugin instance`);
    }
    return entry;
  }

  /** Whether the plugin may still act on the connection: not closed, not asked to close. */
  #live(entry: ConnEntry): boolean {
    return !entry.closed && entry.asked !== 'close';
  }

  /** `close` or `end`: done when the event returns; a close overrides an end. */
  #ask(entry: ConnEntry, what: 'end' | 'close'): void {
    if (!this.#live(entry) || entry.asked === what) return;
    if (entry.asked === undefined) this.#asked.push(entry);
    entry.asked = what;
  }

  /**
   * `write`: takes what fits in the connection's queue (up to
   * writeQueueLimit bytes queued); 0 once the plugin closed or ended it.
   * On UDP the bytes are one datagram: a datagram too large to send
   * (EMSGSIZE) is dropped, as the network may drop any, and counts as taken.
   */
  #write(handle: number, ptr: number, len: number): number {
    checkRange(this.#mem, ptr, len, 'the data to write');
    const entry = this.#entry(handle);
    const conn = entry.conn;
    if (entry.closed || entry.asked !== undefined || conn.state !== ConnState.Open) return 0;
    if (conn.transport === 'udp') {
      try {
        conn.write(this.#mem.u8.subarray(ptr, ptr + len));
      } catch (err) {
        if (codeOf(err) !== 'EMSGSIZE') throw err;
      }
      return len | 0;
    }
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
    const entry = this.#entry(handle);
    const info = !this.#live(entry) ? undefined : side === 'local' ? entry.conn.localAddr : entry.conn.remoteAddr;
    this.#lowering = true;
    const { returnArea } = PluginImports[side === 'local' ? 'localAddress' : 'remoteAddress'];
    lowerString(this.#mem, info === undefined ? '' : formatAddress(info), ret, returnArea);
    this.#lowering = false;
  }

  /** `[resource-drop]connection`: the handle is gone; an open connection closes (when the event returns). */
  #drop(handle: number): void {
    const entry = this.#entry(handle);
    this.#handles.remove(handle);
    this.#ask(entry, 'close');
  }

  #log(level: number, ptr: number, len: number): void {
    if (level < 0 || level >= LEVELS.length) throw new PluginViolation(`log level ${level} is not a host.level`);
    this.#host.log(LEVELS[level], liftString(this.#mem, ptr, len, MAX_LOG_BYTES));
  }
}
