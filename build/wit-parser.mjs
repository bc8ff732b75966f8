// WIT source as data: the subset of WIT the project's WIT files use,
// parsed into interfaces, their types (records, variants, enums) and their
// functions (resource methods included), for the generators of the
// layouts both sides share (build/abi.mjs, build/abi-plugin.mjs); and how
// WIT names become code names.

/** Splits WIT source into tokens; `///` doc comments are kept as {doc} tokens. */
function tokenize(src, file) {
  const tokens = [];
  const re = /\s+|\/\/\/([^\n]*)|\/\/[^\n]*|\/\*[\s\S]*?\*\/|(->|[{}()<>,:;=@/.*])|([A-Za-z0-9_%][A-Za-z0-9_%-]*)/y;
  let m;
  while (re.lastIndex < src.length) {
    const at = re.lastIndex;
    m = re.exec(src);
    if (m === null) throw new Error(`${file}: cannot read WIT at offset ${at}: ${JSON.stringify(src.slice(at, at + 20))}`);
    if (m[1] !== undefined) tokens.push({ doc: m[1].trim() });
    else if (m[2] !== undefined || m[3] !== undefined) tokens.push({ t: m[2] ?? m[3] });
  }
  return tokens;
}

class Parser {
  constructor(tokens, file) {
    this.tokens = tokens;
    this.file = file;
    this.i = 0;
    this.docs = [];
  }
  /** The next token's text, collecting doc comments before it. */
  peek() {
    while (this.i < this.tokens.length && this.tokens[this.i].doc !== undefined) this.docs.push(this.tokens[this.i++].doc);
    return this.tokens[this.i]?.t;
  }
  next() {
    const t = this.peek();
    if (t === undefined) throw new Error(`${this.file}: unexpected end of WIT`);
    this.i++;
    return t;
  }
  expect(t) {
    const got = this.next();
    if (got !== t) throw new Error(`${this.file}: expected '${t}', found '${got}'`);
  }
  takeDocs() {
    this.peek();
    const d = this.docs.join(" ");
    this.docs = [];
    return d;
  }
  /** Skips a balanced {...} block (the opening brace is next). */
  skipBlock() {
    this.expect("{");
    for (let depth = 1; depth > 0; ) {
      const t = this.next();
      if (t === "{") depth++;
      else if (t === "}") depth--;
    }
  }
  /** A type expression: a name, list<T>, or (in function results) result<T, E> with `_` for no payload. */
  type() {
    const name = this.next();
    if (name === "list") {
      this.expect("<");
      const of = this.type();
      this.expect(">");
      return { kind: "list", of };
    }
    if (name === "result" && this.peek() === "<") {
      this.next();
      const ok = this.peek() === "_" ? (this.next(), undefined) : this.type();
      this.expect(",");
      const err = this.type();
      this.expect(">");
      return { kind: "result", ok, err };
    }
    if (["option", "result", "tuple", "borrow", "own", "future", "stream"].includes(name)) {
      throw new Error(`${this.file}: build/abi.mjs does not support ${name}<...> yet`);
    }
    return { kind: "name", name };
  }
}

/** Parses one WIT file into its interfaces: { name -> { types, functions, resources } } (see {@link parseWitFile}). */
export function parseWit(src, file) {
  return parseWitFile(src, file).interfaces;
}

/**
 * Parses one WIT file: its package ({ name, version }), its interfaces
 * ({ name -> { types: Map(name -> def), functions: [{ name, resource?,
 * params: [{ name, type }], result? }], resources: [name] } }; a
 * resource's methods are functions with its name as `resource`), and its
 * worlds ({ name -> { imports: [interface], exports: [interface] } }).
 */
export function parseWitFile(src, file) {
  const p = new Parser(tokenize(src, file), file);
  const interfaces = new Map();
  const worlds = new Map();
  let pkg;
  while (p.peek() !== undefined) {
    p.takeDocs();
    const kw = p.next();
    if (kw === "package") {
      let name = "";
      while (p.peek() !== ";") name += p.next();
      p.next();
      const at = name.indexOf("@");
      pkg = { name: name.slice(0, at), version: name.slice(at + 1) };
    } else if (kw === "world") {
      worlds.set(p.next(), parseWorld(p));
    } else if (kw === "interface") {
      const name = p.next();
      interfaces.set(name, parseInterface(p));
    } else {
      throw new Error(`${file}: unexpected '${kw}' at the top level`);
    }
  }
  return { package: pkg, interfaces, worlds };
}

/** A world's `import name;` and `export name;` of interfaces (anything else in it is skipped). */
function parseWorld(p) {
  const world = { imports: [], exports: [] };
  p.expect("{");
  for (let depth = 1; depth > 0; ) {
    const t = p.next();
    if (t === "{") depth++;
    else if (t === "}") depth--;
    else if (depth === 1 && (t === "import" || t === "export") && p.tokens[p.i + 1]?.t === ";") {
      (t === "import" ? world.imports : world.exports).push(p.next());
    }
  }
  return world;
}

function parseInterface(p) {
  const types = new Map();
  const functions = [];
  const resources = [];
  p.expect("{");
  while (p.peek() !== "}") {
    const doc = p.takeDocs();
    const kw = p.next();
    if (kw === "record" || kw === "variant" || kw === "enum") {
      const name = p.next();
      const items = [];
      p.expect("{");
      while (p.peek() !== "}") {
        const itemDoc = p.takeDocs();
        const item = { name: p.next(), doc: itemDoc };
        if (kw === "record") {
          p.expect(":");
          item.type = p.type();
        } else if (kw === "variant" && p.peek() === "(") {
          p.next();
          item.type = p.type();
          p.expect(")");
        }
        items.push(item);
        if (p.peek() === ",") p.next();
      }
      p.expect("}");
      types.set(name, { kind: kw, name, doc, items });
    } else if (kw === "resource") {
      const resource = p.next();
      resources.push(resource);
      p.expect("{");
      while (p.peek() !== "}") {
        p.takeDocs();
        functions.push({ ...parseFunction(p, p.next()), resource });
      }
      p.expect("}");
    } else if (kw === "use") {
      // `use other.{name}`: a type of another interface (here, a resource
      // handle for function parameters); a record using it would stop the
      // build as an unknown type.
      while (p.next() !== ";");
    } else if (kw === "type" || kw === "flags") {
      throw new Error(`${p.file}: build/abi.mjs does not support '${kw}' in an interface yet`);
    } else {
      functions.push(parseFunction(p, kw));
    }
  }
  p.expect("}");
  return { types, functions, resources };
}

/** `name: func(a: T, ...) -> R;` after its name. */
function parseFunction(p, name) {
  p.expect(":");
  const kind = p.next();
  if (kind !== "func") throw new Error(`${p.file}: build/abi.mjs does not support '${name}: ${kind}' yet (only methods and functions)`);
  p.expect("(");
  const params = [];
  while (p.peek() !== ")") {
    const param = p.next();
    p.expect(":");
    params.push({ name: param, type: p.type() });
    if (p.peek() === ",") p.next();
  }
  p.expect(")");
  let result;
  if (p.peek() === "->") {
    p.next();
    result = p.type();
  }
  p.expect(";");
  return { name, params, result };
}

// ---- WIT names in generated code ----

export const upperSnake = (wit) => wit.replace(/-/g, "_").toUpperCase();
export const pascal = (wit) => wit.split("-").map((w) => w[0].toUpperCase() + w.slice(1)).join("");
export const camel = (wit) => {
  const p = pascal(wit);
  return p[0].toLowerCase() + p.slice(1);
};
