/**
 * A plugin instance's resource table: the `connection` handles it owns.
 *
 * A handle is what the plugin holds (an i32): a slot number in the low 20
 * bits and the slot's generation above them, so a handle that was dropped
 * (or never given) does not name a slot's later occupant: looking it up
 * fails, and the host traps the plugin. A slot whose generation reached
 * the last one is retired rather than reused, so no handle ever names two
 * values in the life of a table. The table is full when every slot is
 * in use (the most handles one table holds at once), and spent when no
 * slot is free but some are retired: with the default sizes, after some
 * two billion handles were given, whatever the plugin does. Slot 0 is
 * never used (0 is never a handle).
 */

const SLOT_BITS = 20;
const SLOT_MASK = (1 << SLOT_BITS) - 1;

/** How many slots a table has, and how many generations each lives. */
export interface HandleSizes {
  /** Slots, each a handle held at once: 1 to 2^20 − 1. */
  readonly slots: number;
  /** Generations of a slot before it is retired: 1 to 2,047 (the handle of the last is below 2^31). */
  readonly generations: number;
}

/** The sizes of an instance's table: all the slots and generations a handle's bits can name. */
export const HANDLE_SIZES: HandleSizes = { slots: SLOT_MASK, generations: (1 << 11) - 1 };

export class HandleTable<T> {
  readonly #values: (T | undefined)[] = [undefined];
  readonly #gens: number[] = [0];
  readonly #free: number[] = [];
  readonly #slots: number;
  readonly #genMax: number;
  #size = 0;

  constructor(sizes: HandleSizes = HANDLE_SIZES) {
    if (!(sizes.slots >= 1 && sizes.slots <= HANDLE_SIZES.slots && sizes.generations >= 1 && sizes.generations <= HANDLE_SIZES.generations)) {
      throw new RangeError(`handle table sizes out of range: ${sizes.slots} slots, ${sizes.generations} generations`);
    }
    this.#slots = sizes.slots;
    this.#genMax = sizes.generations;
  }

  /** Handles held. */
  get size(): number {
    return this.#size;
  }

  /** Most handles the table holds at once (its slots). */
  get capacity(): number {
    return this.#slots;
  }

  /** Whether {@link insert} would fail because every slot is in use. */
  get full(): boolean {
    return this.#size === this.#slots;
  }

  /** Whether {@link insert} would fail although fewer handles than slots are held: the free slots are all retired. */
  get spent(): boolean {
    return this.#free.length === 0 && this.#values.length > this.#slots && this.#size < this.#slots;
  }

  /** Adds `value`; returns its handle, or 0 when the table is {@link full} or {@link spent}. */
  insert(value: T): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#values.length > this.#slots) return 0;
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
    if (this.#gens[slot] === this.#genMax) {
      this.#gens[slot] = 0; // retired: no handle names it again
    } else {
      this.#gens[slot]++;
      this.#free.push(slot);
    }
    return value;
  }
}
