// The in-memory graph: a small, explicit mirror of the parts of ONNX's GraphProto the compiler uses,
// plus a builder that hands out unique names and de-duplicates constants.
import { dtypeCode } from "./onnx.ts";

export type DType = "float32" | "float64" | "int64" | "int32" | "bool" | "uint8" | "int8" | "float16";

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

export interface Tensor {
  name: string;
  dtype: DType;
  dims: number[];
  data: TensorData;
}

export type Attr =
  | { type: "int"; i: number }
  | { type: "float"; f: number }
  | { type: "string"; s: string }
  | { type: "ints"; ints: number[] }
  | { type: "floats"; floats: number[] }
  | { type: "strings"; strings: string[] }
  | { type: "tensor"; t: Tensor }
  | { type: "graph"; g: Graph };

export interface Node {
  op: string;
  name: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

/** A dimension is a known size, or a symbolic name (the batch dimension of a forward model). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[] | null;
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Tensor[];
}

export interface Model {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  graph: Graph;
}

export function opsetOf(model: Model): number {
  const o = model.opsets.find((s) => s.domain === "" || s.domain === "ai.onnx");
  if (!o) throw new Error("the ONNX model declares no default-domain opset (ai.onnx)");
  return o.version;
}

export function attrInt(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.type !== "int") throw new Error(`${node.op} node "${node.name}": attribute ${name} must be an int`);
  return a.i;
}

export function attrFloat(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.type !== "float")
    throw new Error(`${node.op} node "${node.name}": attribute ${name} must be a float`);
  return a.f;
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const a = node.attrs[name];
  if (!a) return undefined;
  if (a.type !== "ints") throw new Error(`${node.op} node "${node.name}": attribute ${name} must be ints`);
  return a.ints;
}

export function attrString(node: Node, name: string, dflt: string): string {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.type !== "string")
    throw new Error(`${node.op} node "${node.name}": attribute ${name} must be a string`);
  return a.s;
}

export const int = (i: number): Attr => ({ type: "int", i });
export const float = (f: number): Attr => ({ type: "float", f });
export const ints = (v: number[]): Attr => ({ type: "ints", ints: v });
export const str = (s: string): Attr => ({ type: "string", s });

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * A gradient also available in the window layout a tiled pool's backward computes it in: `spread` is
 * [N·C, kh·kw, Ho, Wo], window offset (a, b) on axis 1 (row-major), window (i, j) on the last two, so
 * the spatial gradient's position (i·kh + a, j·kw + b) holds spread[n·C + c, a·kw + b, i, j].
 */
export interface WindowedGrad {
  spread: string;
  k: [number, number];
  out: [number, number];
}

/**
 * Builds nodes into a graph. Names are unique within the builder (and its subgraph builders),
 * constants are de-duplicated by value, and `rename` lets the last
 * producer of a value write straight into a graph output's name (an Identity would cost a copy).
 */
export class Builder {
  readonly nodes: Node[] = [];
  readonly initializers: Tensor[] = [];
  /** Gradient value → its window-layout form (see WindowedGrad); consumers that can use it skip the interleave. */
  readonly windowed = new Map<string, WindowedGrad>();
  private used = new Set<string>();
  private readonly consts = new Map<string, string>();
  private counter = 0;

  constructor(
    readonly opset: number,
    taken: Iterable<string> = [],
  ) {
    for (const t of taken) this.used.add(t);
  }

  /** A builder for a subgraph: it shares this builder's names, so no name is defined twice (SSA). */
  child(): Builder {
    const c = new Builder(this.opset);
    c.used = this.used;
    return c;
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  /** A fresh unique name derived from `hint`. */
  fresh(hint: string): string {
    const base = hint;
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    for (;;) {
      const n = `${base}_${++this.counter}`;
      if (!this.used.has(n)) {
        this.used.add(n);
        return n;
      }
    }
  }

  /** Emits a node with `nOut` outputs named from `hint`; returns the output names. */
  opN(op: string, inputs: string[], attrs: Record<string, Attr>, nOut: number, hint?: string): string[] {
    const h = hint ?? op.toLowerCase();
    const outputs = Array.from({ length: nOut }, (_, i) => this.fresh(nOut === 1 ? h : `${h}_${i}`));
    this.nodes.push({ op, name: this.fresh(`${h}_node`), domain: "", inputs, outputs, attrs });
    return outputs;
  }

  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}, hint?: string): string {
    return this.opN(op, inputs, attrs, 1, hint)[0];
  }

  /** Adds a node with caller-chosen output names (used when copying forward nodes). */
  raw(node: Node): void {
    for (const o of node.outputs) if (o) this.used.add(o);
    this.nodes.push({ ...node, name: this.fresh(node.name || `${node.op.toLowerCase()}_node`) });
  }

  private constant(t: Omit<Tensor, "name">, hint: string): string {
    const key = `${t.dtype}|${t.dims.join(",")}|${Array.from(t.data as ArrayLike<number | bigint>).join(",")}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = this.fresh(hint);
    this.initializers.push({ name, ...t });
    this.consts.set(key, name);
    return name;
  }

  f32(values: number | number[], dims?: number[]): string {
    const v = typeof values === "number" ? [values] : values;
    return this.constant(
      {
        dtype: "float32",
        dims: dims ?? (typeof values === "number" ? [] : [v.length]),
        data: Float32Array.from(v),
      },
      "const_f",
    );
  }

  /** A float constant in the given float dtype (gradient checks run in float64). */
  fconst(dtype: DType, values: number | number[], dims?: number[]): string {
    if (dtype === "float32") return this.f32(values, dims);
    const v = typeof values === "number" ? [values] : values;
    return this.constant(
      {
        dtype: "float64",
        dims: dims ?? (typeof values === "number" ? [] : [v.length]),
        data: Float64Array.from(v),
      },
      "const_d",
    );
  }

  i64(values: number | number[], dims?: number[]): string {
    const v = typeof values === "number" ? [values] : values;
    return this.constant(
      {
        dtype: "int64",
        dims: dims ?? (typeof values === "number" ? [] : [v.length]),
        data: BigInt64Array.from(v.map((x) => BigInt(x))),
      },
      "const_i",
    );
  }

  bool(value: boolean): string {
    return this.constant({ dtype: "bool", dims: [], data: Uint8Array.of(value ? 1 : 0) }, "const_b");
  }

  addInitializer(t: Tensor): void {
    this.used.add(t.name);
    this.initializers.push(t);
  }

  /** Sum over `axes` (keepdims selectable); ReduceSum takes axes as an input since opset 13. */
  reduceSum(x: string, axes: number[] | null, keepdims: boolean, hint?: string): string {
    const inputs = axes === null ? [x] : [x, this.i64(axes)];
    return this.op("ReduceSum", inputs, { keepdims: int(keepdims ? 1 : 0) }, hint);
  }

  /** ReduceMean/Max/SumSquare moved axes from an attribute to an input in opset 18. */
  reduce(
    op: "ReduceMean" | "ReduceMax" | "ReduceSumSquare",
    x: string,
    axes: number[] | null,
    keepdims: boolean,
    hint?: string,
  ): string {
    const attrs: Record<string, Attr> = { keepdims: int(keepdims ? 1 : 0) };
    if (this.opset >= 18) return this.op(op, axes === null ? [x] : [x, this.i64(axes)], attrs, hint);
    if (axes !== null) attrs.axes = ints(axes);
    return this.op(op, [x], attrs, hint);
  }

  /** Cast to `to` (ONNX type codes come from onnx.ts, never written inline). */
  cast(x: string, to: DType, hint?: string): string {
    return this.op("Cast", [x], { to: int(dtypeCode(to)) }, hint);
  }

  /** A one-element zero tensor attribute (ConstantOfShape's `value`) in a float dtype. */
  zerosAttr(dtype: DType): Attr {
    const data = dtype === "float64" ? new Float64Array(1) : new Float32Array(1);
    return {
      type: "tensor",
      t: { name: "", dtype: dtype === "float64" ? "float64" : "float32", dims: [1], data },
    };
  }

  unsqueeze(x: string, axes: number[], hint?: string): string {
    return this.op("Unsqueeze", [x, this.i64(axes)], {}, hint);
  }

  squeeze(x: string, axes: number[], hint?: string): string {
    return this.op("Squeeze", [x, this.i64(axes)], {}, hint);
  }

  /** Replaces every use and definition of value `from` by `to` (to name a graph output directly). */
  rename(from: string, to: string): void {
    this.used.add(to);
    for (const n of this.nodes) {
      n.inputs = n.inputs.map((v) => (v === from ? to : v));
      n.outputs = n.outputs.map((v) => (v === from ? to : v));
    }
  }

  producerOf(value: string): Node | undefined {
    return this.nodes.find((n) => n.outputs.includes(value));
  }
}

/**
 * The nodes that contribute to `outputs`, in their order, and the initializers those nodes read: a
 * gradient whose only reader switched to another form (a conv weight gradient reading a pool's window
 * layout) leaves its producer unread, and onnxruntime runs every node it is given (and removes unread
 * initializers itself, warning about each). Nested graphs' reads of outer values count as reads.
 */
export function prune(
  g: { readonly nodes: readonly Node[]; readonly initializers: readonly Tensor[] },
  outputs: readonly string[],
): { nodes: Node[]; initializers: Tensor[] } {
  const { nodes } = g;
  const needed = new Set(outputs);
  const keep = new Array<boolean>(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some((o) => o && needed.has(o))) continue;
    keep[i] = true;
    for (const v of n.inputs) if (v) needed.add(v);
    for (const a of Object.values(n.attrs))
      if (a.type === "graph") for (const v of readsOf(a.g)) needed.add(v);
  }
  return {
    nodes: nodes.filter((_, i) => keep[i]),
    initializers: g.initializers.filter((t) => needed.has(t.name)),
  };
}

/** Every value a graph's nodes read, nested graphs included (a superset of its outer reads). */
function readsOf(g: Graph): Set<string> {
  const out = new Set<string>();
  for (const n of g.nodes) {
    for (const v of n.inputs) if (v) out.add(v);
    for (const a of Object.values(n.attrs)) if (a.type === "graph") for (const v of readsOf(a.g)) out.add(v);
  }
  return out;
}
