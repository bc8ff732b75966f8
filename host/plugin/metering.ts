/**
 * CPU metering, injected into a plugin's core module with binaryen before
 * it is compiled, so that a runaway plugin stops deterministically on the
 * engine's own thread.
 *
 * The module gets a mutable i32 global, exported as `__nbio_fuel`, that the
 * host sets to the budget before each event (`fuelPerEvent`). Code is
 * charged where control can come back to: at every function entry and at
 * every loop header, each charge being the number of instructions of the
 * code it covers (the function body or loop body, without the loops nested
 * in it), so fuel counts roughly the instructions executed. When the fuel
 * goes below zero the module executes `unreachable` and the host, seeing
 * the negative fuel, reports a limit. A charge is
 * `fuel = t = fuel - n; if (t < 0) unreachable`, with `t` a scratch local
 * added to each function: reading the local rather than the global again
 * roughly halved the cost of metering a byte loop. Bulk memory operations (`memory.copy`,
 * `memory.fill`, `memory.init`) cost one unit per 64 bytes on top.
 *
 * `memory.grow` past the memory cap traps too, with `__nbio_limit` set to 1
 * (rather than returning -1), so a plugin that grows without bound stops at
 * the cap with a limit error. The start function, if any, is exported as
 * `__nbio_start` instead of running at instantiation, so that it runs
 * metered, as part of `init`.
 *
 * Only the instructions of WebAssembly 2.0 without threads are accepted
 * (MVP, sign extension, non-trapping conversions, bulk memory, reference
 * types, multi-value, SIMD): a module using anything else (exceptions, GC,
 * atomics, tail calls...) is refused, since its cost model is not known here.
 */
import type binaryenModule from 'binaryen';
import { NbioError } from '../errors.js';

type Module = binaryenModule.Module;
type ExpressionRef = number;
/** The expression setters of binaryen.js that its typings leave out. */
type Binaryen = typeof binaryenModule & {
  Loop: { setBody(loop: ExpressionRef, body: ExpressionRef): void };
  MemoryGrow: { setDelta(grow: ExpressionRef, delta: ExpressionRef): void };
  MemoryCopy: { setSize(copy: ExpressionRef, size: ExpressionRef): void };
  MemoryFill: { setSize(fill: ExpressionRef, size: ExpressionRef): void };
  MemoryInit: { setSize(init: ExpressionRef, size: ExpressionRef): void };
  Function: { setBody(fn: number, body: ExpressionRef): void };
  _BinaryenFunctionAddVar(fn: number, type: number): number;
};

/** Exported names the instrumentation adds. */
export const FUEL_GLOBAL = '__nbio_fuel';
export const LIMIT_GLOBAL = '__nbio_limit';
export const START_EXPORT = '__nbio_start';

const GROW_CHECK = '__nbio_grow_check';
const BYTES_CHARGE = '__nbio_charge_bytes';
/** log2 of the bytes one fuel unit pays for in bulk memory operations. */
const BULK_BYTES_SHIFT = 6;

/** The WebAssembly features a plugin may use. */
export function allowedFeatures(b: typeof binaryenModule): number {
  const f = b.Features;
  return f.MVP | f.MutableGlobals | f.NontrappingFPToInt | f.SIMD128 | f.BulkMemory | f.SignExt |
    f.ReferenceTypes | f.Multivalue;
}

/**
 * Child expressions by expression kind, for the kinds a plugin may use: the
 * names of the fields of `getExpressionInfo` that hold children.
 */
function childFields(b: Binaryen): Map<number, string[]> {
  return new Map<number, string[]>([
    [b.BlockId, ['children']], [b.IfId, ['condition', 'ifTrue', 'ifFalse']], [b.LoopId, ['body']],
    [b.BreakId, ['condition', 'value']], [b.SwitchId, ['condition', 'value']], [b.CallId, ['operands']],
    [b.CallIndirectId, ['target', 'operands']], [b.LocalGetId, []], [b.LocalSetId, ['value']],
    [b.GlobalGetId, []], [b.GlobalSetId, ['value']], [b.LoadId, ['ptr']], [b.StoreId, ['ptr', 'value']],
    [b.ConstId, []], [b.UnaryId, ['value']], [b.BinaryId, ['left', 'right']],
    [b.SelectId, ['ifTrue', 'ifFalse', 'condition']], [b.DropId, ['value']], [b.ReturnId, ['value']],
    [b.MemorySizeId, []], [b.MemoryGrowId, ['delta']], [b.NopId, []], [b.UnreachableId, []],
    [b.SIMDExtractId, ['vec']], [b.SIMDReplaceId, ['vec', 'value']], [b.SIMDShuffleId, ['left', 'right']],
    [b.SIMDTernaryId, ['a', 'b', 'c']], [b.SIMDShiftId, ['vec', 'shift']], [b.SIMDLoadId, ['ptr']],
    [b.SIMDLoadStoreLaneId, ['ptr', 'vec']], [b.MemoryInitId, ['dest', 'offset', 'size']], [b.DataDropId, []],
    [b.MemoryCopyId, ['dest', 'source', 'size']], [b.MemoryFillId, ['dest', 'value', 'size']],
    [b.RefNullId, []], [b.RefIsNullId, ['value']], [b.RefFuncId, []], [b.RefEqId, ['left', 'right']],
    [b.TableGetId, ['index']], [b.TableSetId, ['index', 'value']], [b.TableSizeId, []],
    [b.TableGrowId, ['value', 'delta']], [b.TupleMakeId, ['operands']], [b.TupleExtractId, ['tuple']],
  ]);
}

/** An i64 constant (binaryen.js 130 takes a BigInt, unlike its typings). */
function i64(mod: Module, value: number): ExpressionRef {
  return (mod.i64.const as unknown as (v: bigint) => ExpressionRef)(BigInt(value));
}

function loadError(message: string): NbioError {
  return new NbioError('ERR_NBIO_PLUGIN_LOAD', `plugin refused: ${message}`);
}

/**
 * Instruments `mod` in place (see the file comment). `memoryName` is the
 * internal name of its memory, `maxPages` the memory cap. Returns whether
 * the module had a start function (now exported as `__nbio_start`).
 */
export function meter(b: Binaryen, mod: Module, memoryName: string, maxPages: number): boolean {
  const fields = childFields(b);
  mod.addGlobal(FUEL_GLOBAL, b.i32, true, mod.i32.const(0));
  mod.addGlobal(LIMIT_GLOBAL, b.i32, true, mod.i32.const(0));
  mod.addGlobalExport(FUEL_GLOBAL, FUEL_GLOBAL);
  mod.addGlobalExport(LIMIT_GLOBAL, LIMIT_GLOBAL);

  /** fuel = scratch = fuel - n; if scratch < 0: unreachable (`scratch`: an i32 local of the function) */
  const charge = (amount: ExpressionRef, scratch: number): ExpressionRef => mod.block(null, [
    mod.global.set(FUEL_GLOBAL, mod.local.tee(scratch, mod.i32.sub(mod.global.get(FUEL_GLOBAL, b.i32), amount), b.i32)),
    mod.if(mod.i32.lt_s(mod.local.get(scratch, b.i32), mod.i32.const(0)), mod.unreachable()),
  ], b.none);

  const functions: number[] = [];
  for (let i = 0; i < mod.getNumFunctions(); i++) functions.push(mod.getFunctionByIndex(i));

  // (delta) -> delta, trapping with the limit flag set if memory would pass the cap.
  const pagesAfter = mod.i64.add(mod.i64.extend_u(mod.memory.size(memoryName)), mod.i64.extend_u(mod.local.get(0, b.i32)));
  mod.addFunction(GROW_CHECK, b.i32, b.i32, [], mod.block(null, [
    mod.if(mod.i64.gt_u(pagesAfter, i64(mod, maxPages)),
      mod.block(null, [mod.global.set(LIMIT_GLOBAL, mod.i32.const(1)), mod.unreachable()], b.none)),
    mod.local.get(0, b.i32),
  ], b.i32));
  // (size) -> size, charging one unit per 2^BULK_BYTES_SHIFT bytes.
  mod.addFunction(BYTES_CHARGE, b.i32, b.i32, [b.i32], mod.block(null, [
    charge(mod.i32.shr_u(mod.local.get(0, b.i32), mod.i32.const(BULK_BYTES_SHIFT)), 1),
    mod.local.get(0, b.i32),
  ], b.i32));

  /** Counts the instructions of a region, instrumenting what is in it; loops become regions of their own. */
  const region = (root: ExpressionRef, scratch: number): number => {
    let count = 0;
    const stack = [root];
    while (stack.length > 0) {
      const expr = stack.pop()!;
      if (expr === 0) continue;
      count++;
      const id = b.getExpressionId(expr);
      const names = fields.get(id);
      if (names === undefined) throw loadError(`it uses an instruction the engine does not meter (binaryen expression kind ${id})`);
      if (names.length === 0) continue; // (no details either: binaryen.js has none for some of these kinds)
      const info = b.getExpressionInfo(expr) as unknown as Record<string, unknown> & { id: number };
      if (info.isAtomic === true) throw loadError('it uses atomic memory instructions, which the engine does not meter');
      if (info.id === b.LoopId) {
        const body = info.body as ExpressionRef;
        const cost = region(body, scratch);
        b.Loop.setBody(expr, mod.block(null, [charge(mod.i32.const(cost), scratch), body], b.getExpressionType(body)));
        continue;
      }
      if (info.id === b.MemoryGrowId) b.MemoryGrow.setDelta(expr, mod.call(GROW_CHECK, [info.delta as ExpressionRef], b.i32));
      else if (info.id === b.MemoryCopyId) b.MemoryCopy.setSize(expr, mod.call(BYTES_CHARGE, [info.size as ExpressionRef], b.i32));
      else if (info.id === b.MemoryFillId) b.MemoryFill.setSize(expr, mod.call(BYTES_CHARGE, [info.size as ExpressionRef], b.i32));
      else if (info.id === b.MemoryInitId) b.MemoryInit.setSize(expr, mod.call(BYTES_CHARGE, [info.size as ExpressionRef], b.i32));
      for (const name of names) {
        const child = info[name];
        if (Array.isArray(child)) stack.push(...(child as ExpressionRef[]));
        else stack.push(child as ExpressionRef);
      }
    }
    return count;
  };

  for (const fn of functions) {
    const info = b.getFunctionInfo(fn);
    if (info.module) continue; // an import
    const scratch = b._BinaryenFunctionAddVar(fn, b.i32);
    const cost = region(info.body, scratch);
    b.Function.setBody(fn, mod.block(null, [charge(mod.i32.const(cost), scratch), info.body], info.results));
  }

  const start = mod.getStart();
  if (start === 0) return false;
  mod.setStart(0);
  mod.addFunctionExport(b.getFunctionInfo(start).name, START_EXPORT);
  return true;
}
