/**
 * The shape of binaryen's expression tree, for the instruction kinds a
 * plugin may use: which fields of an expression hold its children, in the
 * order they are evaluated, how to replace a child, and how high the
 * operand stack gets while an expression runs. The instrumentation of
 * metering.ts and stack-budget.ts walks the tree with these.
 */
import type binaryenModule from 'binaryen';

type ExpressionRef = number;
/** binaryen.js, with the expression classes (and their setters) its typings leave out. */
export type Binaryen = typeof binaryenModule & Record<string, unknown> & {
  _BinaryenFunctionAddVar(fn: number, type: number): number;
  Function: { setBody(fn: number, body: ExpressionRef): void };
};

/** How an expression kind holds its children. */
export interface Kind {
  /** The class of binaryen.js with its setters (`Block`, `Call`...). */
  cls: string;
  /** Fields holding children, in evaluation order; a field may hold an array. */
  fields: readonly string[];
  /** Whether each child runs on an empty operand stack (blocks, arms, loop bodies) rather than above its earlier siblings. */
  fresh: boolean;
}

/** The expression kinds a plugin may use, by binaryen expression id. */
export function expressionKinds(b: Binaryen): Map<number, Kind> {
  const k = (cls: string, fields: string[], fresh = false): Kind => ({ cls, fields, fresh });
  const ids = b as unknown as Record<string, number>;
  return new Map<number, Kind>([
    [ids.BlockId, k('Block', ['children'], true)], [ids.IfId, k('If', ['condition', 'ifTrue', 'ifFalse'], true)],
    [ids.LoopId, k('Loop', ['body'], true)], [ids.BreakId, k('Break', ['value', 'condition'])],
    [ids.SwitchId, k('Switch', ['value', 'condition'])], [ids.CallId, k('Call', ['operands'])],
    [ids.CallIndirectId, k('CallIndirect', ['operands', 'target'])], [ids.LocalGetId, k('LocalGet', [])],
    [ids.LocalSetId, k('LocalSet', ['value'])], [ids.GlobalGetId, k('GlobalGet', [])],
    [ids.GlobalSetId, k('GlobalSet', ['value'])], [ids.LoadId, k('Load', ['ptr'])],
    [ids.StoreId, k('Store', ['ptr', 'value'])], [ids.ConstId, k('Const', [])], [ids.UnaryId, k('Unary', ['value'])],
    [ids.BinaryId, k('Binary', ['left', 'right'])], [ids.SelectId, k('Select', ['ifTrue', 'ifFalse', 'condition'])],
    [ids.DropId, k('Drop', ['value'])], [ids.ReturnId, k('Return', ['value'])], [ids.MemorySizeId, k('MemorySize', [])],
    [ids.MemoryGrowId, k('MemoryGrow', ['delta'])], [ids.NopId, k('Nop', [])], [ids.UnreachableId, k('Unreachable', [])],
    [ids.SIMDExtractId, k('SIMDExtract', ['vec'])], [ids.SIMDReplaceId, k('SIMDReplace', ['vec', 'value'])],
    [ids.SIMDShuffleId, k('SIMDShuffle', ['left', 'right'])], [ids.SIMDTernaryId, k('SIMDTernary', ['a', 'b', 'c'])],
    [ids.SIMDShiftId, k('SIMDShift', ['vec', 'shift'])], [ids.SIMDLoadId, k('SIMDLoad', ['ptr'])],
    [ids.SIMDLoadStoreLaneId, k('SIMDLoadStoreLane', ['ptr', 'vec'])],
    [ids.MemoryInitId, k('MemoryInit', ['dest', 'offset', 'size'])], [ids.DataDropId, k('DataDrop', [])],
    [ids.MemoryCopyId, k('MemoryCopy', ['dest', 'source', 'size'])],
    [ids.MemoryFillId, k('MemoryFill', ['dest', 'value', 'size'])], [ids.RefNullId, k('RefNull', [])],
    [ids.RefIsNullId, k('RefIsNull', ['value'])], [ids.RefFuncId, k('RefFunc', [])], [ids.RefEqId, k('RefEq', ['left', 'right'])],
    [ids.TableGetId, k('TableGet', ['index'])], [ids.TableSetId, k('TableSet', ['index', 'value'])],
    [ids.TableSizeId, k('TableSize', [])], [ids.TableGrowId, k('TableGrow', ['value', 'delta'])],
    [ids.TupleMakeId, k('TupleMake', ['operands'])], [ids.TupleExtractId, k('TupleExtract', ['tuple'])],
  ]);
}

/** Where a child sits in its parent: enough to replace it. */
export interface Slot {
  parent: ExpressionRef;
  kind: Kind;
  field: string;
  /** The index in an array field (Block children, Call operands...), else -1. */
  index: number;
}

/** Replaces the child at `slot` with `expr`. */
export function replaceChild(b: Binaryen, slot: Slot, expr: ExpressionRef): void {
  const setters = b[slot.kind.cls] as Record<string, (...args: number[]) => void>;
  if (slot.index >= 0) {
    const setAt = slot.field === 'children' ? setters.setChildAt : setters.setOperandAt;
    setAt(slot.parent, slot.index, expr);
  } else {
    setters[`set${slot.field[0].toUpperCase()}${slot.field.slice(1)}`](slot.parent, expr);
  }
}

/** What binaryen.js tells of an expression: its fields by name. */
export type ExpressionInfo = Record<string, unknown>;

/** The fields of `expr`. */
export function infoOf(b: Binaryen, expr: ExpressionRef): ExpressionInfo {
  return b.getExpressionInfo(expr) as unknown as ExpressionInfo;
}

/** The children of `expr` (of kind `kind`, described by `info`) in evaluation order, with their slots. */
export function childrenOf(expr: ExpressionRef, kind: Kind, info: ExpressionInfo): { child: ExpressionRef; slot: Slot }[] {
  const out: { child: ExpressionRef; slot: Slot }[] = [];
  for (const field of kind.fields) {
    const value = info[field];
    if (Array.isArray(value)) {
      value.forEach((child: number, index) => out.push({ child, slot: { parent: expr, kind, field, index } }));
    } else if (typeof value === 'number' && value !== 0) {
      out.push({ child: value, slot: { parent: expr, kind, field, index: -1 } });
    }
  }
  return out;
}
