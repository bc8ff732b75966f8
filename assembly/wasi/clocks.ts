/**
 * wasi:clocks/monotonic-clock@0.2.12 at the canonical-ABI level. Instants
 * and durations are u64 nanoseconds.
 */

// @ts-ignore: decorator
@external("wasi:clocks/monotonic-clock@0.2.12", "now")
export declare function monotonicNow(): u64;

/** A pollable that becomes ready `ns` nanoseconds from now (and stays ready). */
// @ts-ignore: decorator
@external("wasi:clocks/monotonic-clock@0.2.12", "subscribe-duration")
export declare function subscribeDuration(ns: u64): i32;
