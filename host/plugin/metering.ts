/**
 * CPU and memory metering, injected into a plugin's core module with
 * binaryen before it is compiled, so that a runaway plugin stops
 * deterministically on the engine's own thread.
 *
 * **Fuel.** The module gets a mutable i32 global, exported as
 * `__nbio_fuel`, that the host fills before each event (instance.ts).
 * Code is charged where control can come back to: at every function entry
 * and at every loop header, each charge being the number of instructions
 * of the code it covers (the function body or loop body, without the loops
 * nested in it), so fuel counts roughly the instructions executed. Work
 * whose cost grows with a number is charged by that number ({@link COST}):
 * the bytes of `memory.copy`, `memory.fill` and `memory.init`, the pages of
 * `memory.grow`, the elements of `table.grow`, and every call of a host
 * function (`conn`, `host`) a floor plus the bytes it is given (`write`,
 * `log`). A charge is `fuel = t = fuel - n; if (t < 0) ...`, with `t` a
 * scratch local, reading the local rather than the global again. When the
 * fuel goes below zero the module calls the engine's own import
 * `__nbio.refuel`, which either refills it from what is left of the
 * event's budget (the fuel is handed out in slices, so that the host also
 * checks the time the event has run) or returns 0, and the module executes
 * `unreachable`. A loop header does not call: it leaves the loop, refuels
 * outside it and enters it again from the top (see `meteredLoop`).
 *
 * Host functions are charged where they are called, so the module may
 * only call them directly: an import that is exported, referenced by
 * `ref.func` or placed in a table is refused.
 *
 * **Memory.** `memory.grow` and `table.grow` trap, with `__nbio_limit` set
 * to {@link MEMORY_LIMIT_HIT} (rather than failing), when the memory and
 * every table together would pass the instance's budget (memory-budget.ts).
 *
 * **Stack.** See stack-budget.ts.
 *
 * The start function, if any, is exported as `__nbio_start` instead of
 * running at instantiation, so that it runs metered, as part of `init`.
 *
 * Only the instructions of WebAssembly 2.0 without threads are accepted
 * (MVP, sign extension, non-trapping conversions, bulk memory except the
 * table instructions, reference types, multi-value, SIMD): a module using
 * anything else (exceptions, GC, atomics, tail calls, `table.fill`...) is
 * refused, since its cost is not known here.
 */
import type binaryenModule from 'binaryen';
import { NbioError } from '../api/errors.js';
import { childrenOf, expressionKinds, infoOf, replaceChild, type Binaryen, type Slot } from './expressions.js';
import { PAGE } from '../guest/memory.js';
import type { MemoryBudget } from './memory-budget.js';
import { budgetStack, frameBytes, SMALL_LEAF_FRAME, STACK_BUDGET, type StackNames } from './stack-budget.js';
import type { ImportName } from './world.js';

type Module = binaryenModule.Module;
type ExpressionRef = number;

/** Exported names the instrumentation adds. */
export const FUEL_GLOBAL = '__nbio_fuel';
export const LIMIT_GLOBAL = '__nbio_limit';
export const START_EXPORT = '__nbio_start';
/** The engine's own import: `() -> i32`, called when the fuel went below zero; 0 stops the call. */
export const REFUEL_IMPORT = { module: '__nbio', name: 'refuel' } as const;
/** `__nbio_limit` when a grow would have passed the memory budget. */
export const MEMORY_LIMIT_HIT = 1;

/** Fuel units charged for work whose cost grows with a number, and for host calls. */
const COST = {
  /** Each call of a host function, whatever it does (a system call, say). */
  hostCall: 20_000,
  /** Each byte a bulk memory instruction moves, or a host function is given (`write`, `log`): about the time of a unit of a tight loop. */
  byte: 2,
  /** Each page `memory.grow` adds (its first use costs the system a page fault per 4 KiB). */
  page: 16_384,
  /** Each element `table.grow` adds. */
  element: 16,
} as const;

/** The import a call to a host function is charged for, and which of its arguments is a byte count, if any. */
const BYTE_ARGUMENT: Partial<Record<ImportName, number>> = { write: 2, log: 2 };

/** The WebAssembly features a plugin may use (see the file comment). */
export function allowedFeatures(b: typeof binaryenModule): number {
  const f = b.Features;
  return f.MVP | f.MutableGlobals | f.NontrappingFPToInt | f.SIMD128 | f.BulkMemory | f.BulkMemoryOpt | f.SignExt |
    f.ReferenceTypes | f.Multivalue | f.CallIndirectOverlong;
}

function loadError(message: string): NbioError {
  return new NbioError('ERR_NBIO_PLUGIN_LOAD', `plugin refused: ${message}`);
}

/** An i64 constant (binaryen.js 130 takes a BigInt, unlike its typings). */
function i64(mod: Module, value: number): ExpressionRef {
  return (mod.i64.const as unknown as (v: bigint) => ExpressionRef)(BigInt(value));
}

/** A name no function or global of `mod` has: `base`, or `base` with a number. */
function freshName(mod: Module, b: Binaryen, base: string): string {
  const taken = new Set<string>();
  for (let i = 0; i < mod.getNumFunctions(); i++) taken.add(b.getFunctionInfo(mod.getFunctionByIndex(i)).name);
  for (let i = 0; i < mod.getNumGlobals(); i++) taken.add(b.getGlobalInfo(mod.getGlobalByIndex(i)).name);
  let name = base;
  for (let n = 1; taken.has(name); n++) name = `${base}_${n}`;
  return name;
}

/** What {@link meter} needs to know about the module. */
export interface MeterPlan {
  /** Internal name of its memory. */
  memory: string;
  /** Internal names of its tables, in order. */
  tables: string[];
  /** Internal names of its imported functions, with the host function each is. */
  imports: Map<string, ImportName>;
  /** The memory budget (memory-budget.ts). */
  budget: MemoryBudget;
}

/**
 * Instruments `mod` in place (see the file comment). Returns whether the
 * module had a start function (now exported as `__nbio_start`). Throws
 * ERR_NBIO_PLUGIN_LOAD for what the metering refuses.
 */
export function meter(b: Binaryen, mod: Module, plan: MeterPlan): boolean {
  const kinds = expressionKinds(b);
  const blockKind = kinds.get(b.BlockId)!;
  const original: number[] = [];
  for (let i = 0; i < mod.getNumFunctions(); i++) original.push(mod.getFunctionByIndex(i));
  refuseHostFunctionsOutsideCalls(b, mod, plan.imports);

  const fuel = freshName(mod, b, '__nbio_fuel');
  mod.addGlobal(fuel, b.i32, true, mod.i32.const(0));
  mod.addGlobalExport(fuel, FUEL_GLOBAL);
  const limit = freshName(mod, b, '__nbio_limit');
  mod.addGlobal(limit, b.i32, true, mod.i32.const(0));
  mod.addGlobalExport(limit, LIMIT_GLOBAL);
  const stackNames: StackNames = { stack: freshName(mod, b, '__nbio_stack'), limit };
  mod.addGlobal(stackNames.stack, b.i32, true, mod.i32.const(STACK_BUDGET));
  const refuel = freshName(mod, b, '__nbio_refuel');
  mod.addFunctionImport(refuel, REFUEL_IMPORT.module, REFUEL_IMPORT.name, b.none, b.i32);
  const helpers = addHelpers(b, mod, plan, { fuel, limit, refuel });
  const callKind = kinds.get(b.CallId)!;

  for (const fn of original) {
    const fnInfo = b.getFunctionInfo(fn);
    if (fnInfo.module) continue; // an import
    const scratch = b._BinaryenFunctionAddVar(fn, b.i32);
    /** The highest the operand stack gets in the function, in values, and whether it calls anything. */
    let height = 1;
    let calls = false;
    const returns: { expr: ExpressionRef; replace(expr: ExpressionRef): void }[] = [];

    /** Fuel = scratch = fuel - cost (an i32.const set once the region is counted). */
    const take = (cost: ExpressionRef) =>
      mod.global.set(fuel, mod.local.tee(scratch, mod.i32.sub(mod.global.get(fuel, b.i32), cost), b.i32));
    const refill = () => mod.if(mod.i32.eqz(mod.call(refuel, [], b.i32)), mod.unreachable());
    const setCost = (cost: ExpressionRef, count: number) =>
      (b.Const as unknown as { setValueI32(c: ExpressionRef, v: number): void }).setValueI32(cost, count);

    /** `body` in a block that first charges the instructions of its region; if the fuel went below zero, refuel() or unreachable. */
    const metered = (body: ExpressionRef, type: number): ExpressionRef => {
      const cost = mod.i32.const(0);
      const wrapper = mod.block(null, [take(cost), mod.if(mod.i32.lt_s(mod.local.get(scratch, b.i32), mod.i32.const(0)), refill()), body], type);
      setCost(cost, region(body, { parent: wrapper, kind: blockKind, field: 'children', index: 2 }, 0));
      return wrapper;
    };

    let labels = 0;
    /**
     * What takes the place of `loop`: its body first charges the body's
     * instructions and, if the fuel went below zero, leaves the loop, to
     * refuel() (or trap) and enter it again from the top. The call stays
     * out of the loop's own code: a call there, even one that never runs,
     * made the line plugin's byte loop up to a sixth slower.
     */
    const meteredLoop = (loop: ExpressionRef, body: ExpressionRef, base: number): ExpressionRef => {
      const [out, done, retry] = ['out', 'done', 'retry'].map((what) => `__nbio_${what}_${labels++}`);
      const cost = mod.i32.const(0);
      const inner = mod.block(null, [take(cost), mod.br(out, mod.i32.lt_s(mod.local.get(scratch, b.i32), mod.i32.const(0))), body],
        b.getExpressionType(body));
      (b.Loop as unknown as { setBody(l: ExpressionRef, e: ExpressionRef): void }).setBody(loop, inner);
      setCost(cost, region(body, { parent: inner, kind: blockKind, field: 'children', index: 2 }, base));
      const type = b.getExpressionType(loop);
      const again = (first: ExpressionRef) => mod.loop(retry, mod.block(null, [first, refill(), mod.br(retry)], b.unreachable));
      if (type === b.unreachable) return again(mod.block(out, [loop], b.none));
      if (type === b.none) return mod.block(done, [again(mod.block(out, [loop, mod.br(done)], b.none))], b.none);
      return mod.block(done, [again(mod.block(out, [mod.br(done, 0, loop)], b.none))], type);
    };

    /** Puts the child `at` inside a call of the scaled charge (and of `check`, if given); its slot moves there. */
    const charged = (at: { child: ExpressionRef; slot: Slot }, rate: number, floor: number, check?: string): void => {
      const call = mod.call(helpers.charge, [at.child, mod.i32.const(rate), mod.i32.const(floor)], b.i32);
      replaceChild(b, at.slot, check === undefined ? call : mod.call(check, [call], b.i32));
      at.slot = { parent: call, kind: callKind, field: 'operands', index: 0 };
    };

    /**
     * Counts the instructions of a region and instruments what is in it
     * (loops become regions of their own); `base` is the operand stack's
     * height where the region starts.
     */
    const region = (root: ExpressionRef, rootSlot: Slot, rootBase: number): number => {
      let count = 0;
      const stack = [{ expr: root, slot: rootSlot, base: rootBase }];
      while (stack.length > 0) {
        const { expr, slot, base } = stack.pop()!;
        count++;
        height = Math.max(height, base + 1);
        const id = b.getExpressionId(expr);
        const kind = kinds.get(id);
        if (kind === undefined) throw loadError(`it uses an instruction the engine does not meter (binaryen expression kind ${id})`);
        if (kind.fields.length === 0 && id !== b.RefFuncId) continue;
        const info = infoOf(b, expr);
        if (info.isAtomic === true) throw loadError('it uses atomic memory instructions, which the engine does not meter');
        const children = childrenOf(expr, kind, info);
        const field = (name: string) => children.find((c) => c.slot.field === name)!;
        switch (id) {
          case b.LoopId:
            replaceChild(b, slot, meteredLoop(expr, info.body as ExpressionRef, base));
            continue;
          case b.CallId:
          case b.CallIndirectId: {
            calls = true;
            if (info.isReturn === true) throw loadError('it uses tail calls, which the engine\'s stack budget does not account for');
            const host = id === b.CallId ? plan.imports.get(info.target as string) : undefined;
            if (host === undefined) break;
            const at = BYTE_ARGUMENT[host] ?? 0;
            charged(children[at], at === 0 ? 0 : COST.byte, COST.hostCall);
            break;
          }
          case b.RefFuncId:
            if (plan.imports.has(info.func as string)) throw loadError('it takes a reference to a host function; it may only call them directly');
            break;
          case b.MemoryGrowId:
            charged(field('delta'), COST.page, 0, helpers.growMemory);
            break;
          case b.TableGrowId:
            charged(field('delta'), COST.element, 0, helpers.growTable.get(info.table as string)!);
            break;
          case b.MemoryCopyId:
          case b.MemoryFillId:
          case b.MemoryInitId:
            charged(field('size'), COST.byte, 0);
            break;
          case b.ReturnId:
            returns.push({ expr, replace: (e) => replaceChild(b, slot, e) });
            break;
        }
        children.forEach(({ child, slot: at }, i) => stack.push({ expr: child, slot: at, base: base + (kind.fresh ? 0 : i) }));
      }
      return count;
    };

    b.Function.setBody(fn, metered(fnInfo.body, fnInfo.results));
    const frame = frameBytes(b, b.getFunctionInfo(fn), height);
    if (calls || frame > SMALL_LEAF_FRAME) budgetStack(b, mod, fn, frame, stackNames, returns);
  }

  const start = mod.getStart();
  if (start === 0) return false;
  mod.setStart(0);
  mod.addFunctionExport(b.getFunctionInfo(start).name, START_EXPORT);
  return true;
}

/**
 * Refuses a module that lets a host function be called other than by a
 * direct `call` (where the metering charges it): exported, or placed in a
 * table by an element segment (a `ref.func` is refused by the metering).
 */
function refuseHostFunctionsOutsideCalls(b: Binaryen, mod: Module, imports: Map<string, ImportName>): void {
  const refuse = (how: string) => loadError(`it ${how} a host function; it may only call them directly`);
  for (let i = 0; i < mod.getNumExports(); i++) {
    const info = b.getExportInfo(mod.getExportByIndex(i));
    if (info.kind === b.ExternalFunction && imports.has(info.value)) throw refuse('exports');
  }
  for (let i = 0; i < mod.getNumElementSegments(); i++) {
    const segment = b.getElementSegmentInfo(mod.getElementSegmentByIndex(i));
    if (segment.data.some((name) => imports.has(name))) throw refuse('puts in a table');
  }
}

/**
 * The helper functions of the instrumentation: the scaled charge, and the
 * checks of `memory.grow` and of `table.grow` on each table against the
 * memory budget.
 */
function addHelpers(b: Binaryen, mod: Module, plan: MeterPlan, names: { fuel: string; limit: string; refuel: string }) {
  const { budget } = plan;
  // (n, rate, floor) -> n, charging floor + n * rate units, in 64 bits: the
  // fuel left is at least -0x7fffffff, below any event's budget.
  const charge = freshName(mod, b, '__nbio_charge');
  const n = mod.local.get(0, b.i32);
  const amount = mod.i64.add(mod.i64.extend_u(mod.local.get(2, b.i32)), mod.i64.mul(mod.i64.extend_u(n), mod.i64.extend_u(mod.local.get(1, b.i32))));
  const left = () => mod.local.get(3, b.i64);
  mod.addFunction(charge, b.createType([b.i32, b.i32, b.i32]), b.i32, [b.i64], mod.block(null, [
    mod.local.set(3, mod.i64.sub(mod.i64.extend_s(mod.global.get(names.fuel, b.i32)), amount)),
    mod.global.set(names.fuel, mod.i32.wrap(mod.select(mod.i64.ge_s(left(), i64(mod, -0x7fffffff)), left(), i64(mod, -0x7fffffff)))),
    mod.if(mod.i64.lt_s(left(), i64(mod, 0)), mod.if(mod.i32.eqz(mod.call(names.refuel, [], b.i32)), mod.unreachable())),
    mod.local.get(0, b.i32),
  ], b.i32));

  /** Bytes of the memory and every table, with `extra` bytes more, as an i64 expression. */
  const used = (extra: ExpressionRef): ExpressionRef => plan.tables.reduce(
    (sum, table) => mod.i64.add(sum, mod.i64.mul(mod.i64.extend_u(mod.table.size(table)), i64(mod, budget.tableElementBytes))),
    mod.i64.add(mod.i64.add(mod.i64.mul(mod.i64.extend_u(mod.memory.size(plan.memory)), i64(mod, PAGE)), extra), i64(mod, budget.fixedBytes)),
  );
  /** (delta) -> delta, trapping with the limit flag set if `extra(delta)` more bytes would pass the budget. */
  const check = (name: string, extra: (delta: ExpressionRef) => ExpressionRef) => {
    mod.addFunction(name, b.i32, b.i32, [], mod.block(null, [
      mod.if(mod.i64.gt_u(used(extra(mod.i64.extend_u(mod.local.get(0, b.i32)))), i64(mod, budget.maxBytes)),
        mod.block(null, [mod.global.set(names.limit, mod.i32.const(MEMORY_LIMIT_HIT)), mod.unreachable()], b.none)),
      mod.local.get(0, b.i32),
    ], b.i32));
    return name;
  };
  const growMemory = check(freshName(mod, b, '__nbio_grow_memory'), (delta) => mod.i64.mul(delta, i64(mod, PAGE)));
  const growTable = new Map<string, string>();
  for (const table of plan.tables) {
    growTable.set(table, check(freshName(mod, b, '__nbio_grow_table'), (delta) => mod.i64.mul(delta, i64(mod, budget.tableElementBytes))));
  }
  return { charge, growMemory, growTable };
}
