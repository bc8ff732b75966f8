/**
 * Room in the event array (events.ts) for what must not be lost. Memory
 * (heap.ts) can run out, and then the array cannot grow: so a `closed` is
 * kept free for every live connection (UDP peers included) and a
 * `listener-paused` for every listener, plus SPARE_EVENTS records. Before
 * an event that may be dropped or delayed (`opened`, `data`, `drained`,
 * `ended`, `accepted`) the reactor asks for room beside those (`room`); a
 * batch that finds none stops early and resumes at the next `run-once`.
 *
 * Also reports the runs the heap holds for the host to discard
 * (`released` events), as many as fit beside the reserved records.
 */
import { EVENT_KIND_RELEASED } from "./generated/abi";
import { ctListeners, ctLiveConns } from "./conn-table";
import { evEnsure, evPush, evRoom } from "./events";
import { heapNextRelease, heapReleaseFrom, heapReleaseLength } from "./heap";
import { peerCount } from "./udp-peers";

/** Event records kept free beyond the ones reserved for closes and pauses. */
export const SPARE_EVENTS: u32 = 2;

/** Event records that must stay free: a `closed` per live connection or
 *  peer, a `listener-paused` per listener. */
@inline function reserved(): u32 { return <u32>ctLiveConns() + peerCount() + <u32>ctListeners(); }

/** Makes sure `extra` events fit beside the reserved ones (growing the
 *  array if needed). False when the memory for that cannot be had. */
export function room(extra: u32): bool { return evEnsure(reserved() + extra); }

/** Reports the runs the heap holds for the host to discard, as many as fit. */
export function announceReleases(): void {
  while (evRoom() > reserved() + SPARE_EVENTS) {
    const run = heapNextRelease();
    if (run == 0) return;
    evPush(EVENT_KIND_RELEASED, <u32>heapReleaseFrom(run), 0, <u32>heapReleaseLength(run), 0, 0);
  }
}
