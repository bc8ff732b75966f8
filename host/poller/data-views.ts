/**
 * The `data` views handlers receive (windows on reactor memory, valid during
 * the handler), and recognising a stale one written back later.
 */
import type { GuestMemory } from '../guest/memory.js';

/** How many of the last delivered `data` views are recognised as stale by identity. */
export const RECENT_VIEWS = 16;

/** Most addresses whose views are kept for reuse; past it the cache starts over. */
const MAX_CACHED_ADDRESSES = 4096;

/** The views made for one address of reactor memory, all of one length and on one buffer. */
interface CachedViews {
  len: number;
  buffer: ArrayBuffer;
  views: Uint8Array[];
  /** For each view, the sequence number of its last delivery. */
  delivered: number[];
}

/**
 * The `data` views `onData` receives, and which views are stale.
 *
 * A `data` view is valid only while its `onData` runs: afterwards the same
 * memory holds newer bytes. Writing a view of reactor memory is refused
 * (ERR_NBIO_STALE_VIEW, see host/poller/write-path.ts) unless it lies on the
 * data being delivered and is not one of the {@link RECENT_VIEWS} views
 * delivered last (tracked by identity).
 *
 * No allocation per message: a batch's reads land at the same addresses
 * batch after batch, so a view made for an address and length is handed
 * out again, but only once it is not one of the {@link RECENT_VIEWS}
 * delivered last. A handler that kept a view is therefore told exactly as
 * if every view were new: the ones it can be told about (the last
 * {@link RECENT_VIEWS}) are never the one being delivered; an older kept
 * view lying on the bytes being delivered now could not be told apart
 * from a fresh one either way. At most RECENT_VIEWS + 1 views are kept
 * per address (one of them is always free again).
 */
export class DataViews {
  readonly #mem: GuestMemory;
  /** The view being delivered (its `onData` runs), or undefined. */
  current: Uint8Array | undefined;
  /** Address and length of {@link current} in reactor memory. */
  currentPtr = 0;
  currentLen = 0;
  /** The views delivered most recently (a ring), refused by identity once their handler returned. */
  readonly #recent: (Uint8Array | undefined)[] = new Array(RECENT_VIEWS).fill(undefined);
  #recentAt = 0;
  /** Deliveries so far: the sequence number of the next one. */
  #seq = 0;
  readonly #cache = new Map<number, CachedViews>();

  constructor(mem: GuestMemory) {
    this.#mem = mem;
  }

  /**
   * A view of `len` bytes at `ptr` in reactor memory, marked as the data
   * being delivered until {@link done}. Call {@link GuestMemory.sync} first.
   */
  deliver(ptr: number, len: number): Uint8Array {
    const view = this.#view(ptr, len);
    this.#recent[this.#recentAt] = view;
    this.#recentAt = (this.#recentAt + 1) % RECENT_VIEWS;
    this.current = view;
    this.currentPtr = ptr;
    this.currentLen = len;
    return view;
  }

  /** The `onData` of the current view returned. */
  done(): void {
    this.current = undefined;
  }

  /** Whether `view` is one of the {@link RECENT_VIEWS} views delivered last. */
  isRecent(view: Uint8Array): boolean {
    return this.#recent.includes(view);
  }

  /** A view made before for these bytes that is not one of the recent ones, or a new one (kept for later). */
  #view(ptr: number, len: number): Uint8Array {
    const buffer = this.#mem.buffer;
    const seq = this.#seq++;
    let cached = this.#cache.get(ptr);
    if (cached === undefined || cached.len !== len || cached.buffer !== buffer) {
      if (this.#cache.size >= MAX_CACHED_ADDRESSES) this.#cache.clear();
      cached = { len, buffer, views: [], delivered: [] };
      this.#cache.set(ptr, cached);
    }
    const { views, delivered } = cached;
    for (let i = 0; i < views.length; i++) {
      // Delivered more than RECENT_VIEWS deliveries ago: no longer in the ring.
      if (seq - delivered[i] > RECENT_VIEWS) {
        delivered[i] = seq;
        return views[i];
      }
    }
    const view = new Uint8Array(buffer, ptr, len);
    views.push(view);
    delivered.push(seq);
    return view;
  }
}
