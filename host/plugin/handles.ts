/**
 * A plugin instance's resource table: the `connection` handles it owns.
 *
 * A handle is what the plugin holds (an i32): a slot number in the low 20
 * bits and the slot's generation above them, so a handle that was dropped
 * (or never given) does not name a slot's later occupant: looking it up
 * fails, and the host traps the plugin. A slot whose generation reached
 * the last one is retired rather than reused, so no handle ever names two
 * values in the life of a table; the table is full once every slot is
 * retired or in use (some two billion handles given). Slot 0 is never used
 * (0 is never a handle).
 */

const SLOT_BITS = 20;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
/** Generations run from 1 to GEN_MAX: the handle of the last is below 2^31. */
const GEN_MAX = (1 << 11) - 1;

/** Most handles one instance can hold at once. */
const MAX_HANDLES = SLOT_MASK;

export class HandleTable<T> {
  readonly #values: (T | undefined)[] = [undefined];
  readonly #gens: number[] = [0];
  readonly #free: number[] = [];
  #size = 0;

  /** Handles held. */
  get size(): number {
    return this.#size;
  }

  /** Adds `value`; returns its handle, or 0 when the table is full. */
  insert(value: T): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#values.length > MAX_HANDLES) return 0;
      slot = this.#values.length;
      this.#values.push(undefined);
      this.#gens.push(1);
    }
    this.#values[slot] = value;
    this.#size++;
    return ((this.#gens[slot] << SLOT_BITS) | slot) >>> 0;
  }

  /** The value `handle` names, or undefined if it names nothing (dropped, forged, out of range). */
  get(handle: number): T | undefined {
    const slot = handle & SLOT_MASK;
    if (slot === 0 || slot >= this.#values.length || this.#gens[slot] !== handle >>> SLOT_BITS) return undefined;
    return this.#values[slot];
  }

  /** Replaces the value of a live handle. */
  set(handle: number, value: T): void {
    if (this.get(handle) !== undefined) this.#values[handle & SLOT_MASK] = value;
  }

  /** Removes a handle; returns its value, or undefined if it named nothing. */
  remove(handle: number): T | undefined {
    const value = this.get(handle);
    if (value === undefined) return undefined;
    const slot = handle & SLOT_MASK;
    this.#values[slot] = undefined;
    this.#size--;
    if (this.#gens[slot] === GEN_MAX) {
      this.#gens[slot] = 0; // retired: no handle names it again
    } else {
      this.#gens[slot]++;
      this.#free.push(slot);
    }
    return value;
  }
}
