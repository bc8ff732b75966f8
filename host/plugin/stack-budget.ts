/**
 * The stack budget, injected into a plugin's core module with the
 * metering (metering.ts): the engine's own JavaScript runs on the stack a
 * plugin's calls leave, when the plugin calls the host, so a plugin must
 * never get close to the end of the thread's stack. V8 would stop a
 * plugin that overflows it, but possibly inside the host, half-way
 * through a change of the engine's state.
 *
 * Every function of the module (small leaves excepted, see
 * {@link SMALL_LEAF_FRAME}) is given an estimate of its frame, from its
 * locals and parameters and the operand stack its code can build
 * ({@link frameBytes}); on entry it takes its estimate from a global that
 * starts at {@link STACK_BUDGET}, and gives it back when it returns. A
 * call that would take the global below zero traps instead, with
 * `__nbio_limit` set to {@link STACK_LIMIT_HIT}: a stack overflow the
 * engine sees coming. The estimate is about twice what V8 11's compilers
 * (Liftoff and TurboFan) were measured to use per value (8 bytes, 16 for
 * a v128) and frame, so the real stack a plugin uses stays below the
 * budget, and the engine keeps the rest (hundreds of KiB with Node's
 * default stack) for itself.
 */
import { infoOf, type Binaryen } from './expressions.js';

type ExpressionRef = number;

/** Bytes of estimated frames a plugin's calls may hold at once. */
export const STACK_BUDGET = 256 * 1024;
/**
 * A function that calls nothing (a leaf) with an estimated frame of at
 * most this many bytes is not instrumented: nothing but the engine's
 * `refuel` can run above it, and one such frame on top of the budget is
 * within the margin the budget leaves. (Small leaves are most of the calls
 * made in byte loops, where the check would be a large share of the work.)
 */
export const SMALL_LEAF_FRAME = 4096;
/** `__nbio_limit` when a call would have passed the stack budget. */
export const STACK_LIMIT_HIT = 2;
/** Estimated bytes of a frame besides its values, and of one value (twice for a v128). */
const FRAME_BASE = 128;
const SLOT = 16;

/** The estimated frame of a function with `info`'s parameters and locals whose operand stack reaches `height` values. */
export function frameBytes(b: Binaryen, info: { params: number; vars: number[] }, height: number): number {
  const slots = (types: number[]) => types.reduce((n, t) => n + (t === b.v128 ? 2 : 1), 0);
  const values = slots(b.expandType(info.params)) + slots(info.vars.flatMap((t) => b.expandType(t))) + height;
  return FRAME_BASE + SLOT * values;
}

/** The names the stack instrumentation uses in the module. */
export interface StackNames {
  /** The global of the budget left. */
  stack: string;
  /** The global the host reads to learn which limit stopped a call. */
  limit: string;
}

/**
 * Instruments one function: takes `frame` bytes from the budget on entry
 * (trapping if there are not enough) and gives them back on every way out
 * (the end of the body, each `return` in `returns`). Tail calls are
 * refused by the metering, so a frame only ends by returning (or a trap,
 * after which the instance is never entered again).
 */
export function budgetStack(
  b: Binaryen, mod: binaryenModuleInstance, fn: number, frame: number, names: StackNames,
  returns: { expr: ExpressionRef; replace(expr: ExpressionRef): void }[],
): void {
  const info = b.getFunctionInfo(fn);
  const saved = b._BinaryenFunctionAddVar(fn, b.i32);
  const result = info.results === b.none ? -1 : b._BinaryenFunctionAddVar(fn, info.results);
  const restore = () => mod.global.set(names.stack, mod.local.get(saved, b.i32));
  for (const r of returns) {
    const value = infoOf(b, r.expr).value as ExpressionRef;
    if (value === 0) {
      r.replace(mod.block(null, [restore(), r.expr], b.unreachable));
    } else {
      (b.Return as unknown as { setValue(ret: ExpressionRef, v: ExpressionRef): void }).setValue(r.expr, mod.block(null, [
        mod.local.set(result, value), restore(), mod.local.get(result, info.results),
      ], info.results));
    }
  }
  const left = mod.i32.sub(mod.local.get(saved, b.i32), mod.i32.const(frame));
  const take = mod.block(null, [
    mod.local.set(saved, mod.global.get(names.stack, b.i32)),
    mod.if(mod.i32.lt_s(left, mod.i32.const(0)),
      mod.block(null, [mod.global.set(names.limit, mod.i32.const(STACK_LIMIT_HIT)), mod.unreachable()], b.none)),
    mod.global.set(names.stack, mod.i32.sub(mod.local.get(saved, b.i32), mod.i32.const(frame))),
  ], b.none);
  const body = info.body;
  const bodyType = b.getExpressionType(body);
  let wrapped: ExpressionRef;
  if (bodyType === b.unreachable) wrapped = mod.block(null, [take, body], b.unreachable);
  else if (info.results === b.none) wrapped = mod.block(null, [take, body, restore()], b.none);
  else wrapped = mod.block(null, [take, mod.local.set(result, body), restore(), mod.local.get(result, info.results)], info.results);
  b.Function.setBody(fn, wrapped);
}

type binaryenModuleInstance = InstanceType<Binaryen['Module']>;
