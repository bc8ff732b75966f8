// The canonical ABI of the component model, as far as the project's WIT
// uses it: the size, alignment and field offsets of a type in memory, and
// how many core values a function's parameters and results flatten to.
// build/abi.mjs and build/abi-plugin.mjs lay out the WIT with it.

const PRIMITIVES = {
  bool: [1, 1], u8: [1, 1], s8: [1, 1], u16: [2, 2], s16: [2, 2],
  u32: [4, 4], s32: [4, 4], f32: [4, 4], char: [4, 4],
  u64: [8, 8], s64: [8, 8], f64: [8, 8],
  string: [8, 4],
};

const alignTo = (n, a) => Math.ceil(n / a) * a;

/** Bytes of the discriminant of an enum or variant with `n` cases. */
function discriminantSize(n) {
  return n <= 0x100 ? 1 : n <= 0x10000 ? 2 : 4;
}

/** The canonical-ABI { size, align } of a type, resolving names in `types`. */
export function layoutOf(type, types) {
  if (type.kind === "list") return { size: 8, align: 4 };
  if (type.kind === "result") return defLayout(resultDef(type), types).whole;
  if (PRIMITIVES[type.name]) {
    const [size, align] = PRIMITIVES[type.name];
    return { size, align };
  }
  const def = types.get(type.name);
  if (def === undefined) throw new Error(`build/abi.mjs: unknown type '${type.name}'`);
  return defLayout(def, types).whole;
}

/** Size, alignment and member offsets of a record, variant or enum. */
export function defLayout(def, types) {
  if (def.kind === "enum") {
    const d = discriminantSize(def.items.length);
    return { whole: { size: d, align: d } };
  }
  if (def.kind === "record") {
    let at = 0;
    let align = 1;
    const offsets = def.items.map((f) => {
      const l = layoutOf(f.type, types);
      at = alignTo(at, l.align);
      const offset = at;
      at += l.size;
      align = Math.max(align, l.align);
      return offset;
    });
    return { whole: { size: alignTo(at, align), align }, offsets };
  }
  const d = discriminantSize(def.items.length);
  let caseAlign = 1;
  let caseSize = 0;
  for (const c of def.items) {
    if (c.type === undefined) continue;
    const l = layoutOf(c.type, types);
    caseAlign = Math.max(caseAlign, l.align);
    caseSize = Math.max(caseSize, l.size);
  }
  const payload = alignTo(d, caseAlign);
  const align = Math.max(d, caseAlign);
  return { whole: { size: alignTo(payload + caseSize, align), align }, payload, discriminant: d };
}

/** `result<T, E>` as the variant the canonical ABI lays it out as: cases `ok(T)` and `error(E)`. */
export function resultDef(type) {
  return { kind: "variant", items: [{ name: "ok", type: type.ok }, { name: "error", type: type.err }] };
}

/** The most core values a lowered call passes as parameters, and returns, before it uses memory instead. */
export const MAX_FLAT_PARAMS = 16;
export const MAX_FLAT_RESULTS = 1;

/**
 * How many core values (all i32 here: the project's WIT has no 64-bit or
 * float values in plugin calls) a value of `type` flattens to. `handles`
 * names the resource types, each an i32 handle.
 */
export function flatCount(type, types, handles) {
  if (type === undefined) return 0;
  if (type.kind === "list" || type.name === "string") return 2;
  if (type.kind === "result") return 1 + Math.max(flatCount(type.ok, types, handles), flatCount(type.err, types, handles));
  if (handles.includes(type.name)) return 1;
  if (PRIMITIVES[type.name]) {
    if (PRIMITIVES[type.name][0] === 8) throw new Error(`build/abi: ${type.name} flattens to a 64-bit value, which the plugin world does not use yet`);
    return 1;
  }
  const def = types.get(type.name);
  if (def === undefined) throw new Error(`build/abi: unknown type '${type.name}'`);
  if (def.kind === "enum") return 1;
  if (def.kind === "record") return def.items.reduce((n, f) => n + flatCount(f.type, types, handles), 0);
  return 1 + Math.max(0, ...def.items.map((c) => flatCount(c.type, types, handles)));
}
