// Layout ops (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat) and the integer ops of the
// Shape-only subgraphs exporters emit to compute a Reshape target (Shape, Gather, Constant, Cast…).
// Shape rules evaluate those small tensors, with the batch dimension kept symbolic.
import { type Attr, attrInt, attrInts, type Dim, type DType, ints, type Tensor } from "../ir.ts";
import { dtypeFromCode } from "../onnx.ts";
import { type Grad, type GradCtx, type Meta, normAxis, type OpRule, type ShapeCtx } from "./types.ts";

/** Contents of a constant tensor small enough to matter for shape arithmetic. */
export function tensorValue(t: Tensor): Dim[] | undefined {
  if (t.data.length > 64) return undefined;
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** dX = dY reshaped back to X's shape (every layout-only op). */
const backToInputShape = {
  0: (ctx: GradCtx): Grad => {
    const X = ctx.node.inputs[0];
    const { b } = ctx;
    return b.op("Reshape", [ctx.dY, b.op("Shape", [X], {}, `${X}_shape`)], {}, `${X}_grad`);
  },
};

function product(dims: Dim[]): { n: number; sym: string[] } {
  let n = 1;
  const sym: string[] = [];
  for (const d of dims) {
    if (typeof d === "number") n *= d;
    else sym.push(d);
  }
  return { n, sym: sym.sort() };
}

export const Reshape: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const target = ctx.input(1).value;
    if (!target)
      ctx.fail(
        "Reshape's target shape must be a constant or a Shape-only subgraph the compiler can evaluate",
      );
    const allowzero = attrInt(ctx.node, "allowzero", 0);
    const out: Dim[] = target.map((d, i) => (d === 0 && !allowzero ? x.shape[i] : d));
    const unknown = out.indexOf(-1);
    if (unknown >= 0) {
      const total = product(x.shape);
      const rest = product(out.filter((_, i) => i !== unknown));
      const leftover = total.sym.filter((s) => {
        const j = rest.sym.indexOf(s);
        if (j >= 0) rest.sym.splice(j, 1);
        return j < 0;
      });
      if (rest.sym.length || leftover.length > 1 || total.n % rest.n !== 0) {
        ctx.fail(`cannot infer the -1 in Reshape target [${target}] from input [${x.shape}]`);
      }
      const factor = total.n / rest.n;
      out[unknown] = leftover.length
        ? factor === 1
          ? leftover[0]
          : ctx.fail(`Reshape would merge the batch axis: [${x.shape}] → [${target}]`)
        : factor;
    }
    return [{ dtype: x.dtype, shape: out, value: x.value }];
  },
  grad: backToInputShape,
};

export const Flatten: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const axis = normAxis(attrInt(ctx.node, "axis", 1), x.shape.length);
    const head = product(x.shape.slice(0, axis));
    const tail = product(x.shape.slice(axis));
    const dim = (p: { n: number; sym: string[] }): Dim =>
      p.sym.length === 0
        ? p.n
        : p.sym.length === 1 && p.n === 1
          ? p.sym[0]
          : ctx.fail(`Flatten at axis ${axis} would merge the batch axis of [${x.shape}]`);
    return [{ dtype: x.dtype, shape: [dim(head), dim(tail)] }];
  },
  grad: backToInputShape,
};

export const Transpose: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const perm = attrInts(ctx.node, "perm") ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  // dX = Transpose(dY, perm⁻¹)
  grad: {
    0(ctx) {
      const rank = ctx.meta(ctx.node.inputs[0]).shape.length;
      const perm = attrInts(ctx.node, "perm") ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
      const inv = new Array<number>(rank);
      perm.forEach((p, i) => {
        inv[p] = i;
      });
      return ctx.b.op("Transpose", [ctx.dY], { perm: ints(inv) }, `${ctx.node.inputs[0]}_grad`);
    },
  },
};

function axesOf(ctx: ShapeCtx): number[] | undefined {
  const a = attrInts(ctx.node, "axes");
  if (a) return a;
  if (!ctx.has(1)) return undefined;
  const v = ctx.input(1).value;
  if (!v || v.some((d) => typeof d !== "number")) ctx.fail("axes must be a constant");
  return v as number[];
}

export const Unsqueeze: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const axes = axesOf(ctx);
    if (!axes) ctx.fail("Unsqueeze needs axes");
    const rank = x.shape.length + axes.length;
    const norm = axes.map((a) => normAxis(a, rank));
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : x.shape[j++]);
    return [{ dtype: x.dtype, shape: out, value: x.value }];
  },
  grad: backToInputShape,
};

export const Squeeze: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const axes = axesOf(ctx)?.map((a) => normAxis(a, x.shape.length));
    const out = x.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
    return [{ dtype: x.dtype, shape: out, value: x.value }];
  },
  grad: backToInputShape,
};

export const Concat: OpRule = {
  shape(ctx: ShapeCtx) {
    const first = ctx.input(0);
    const rank = first.shape.length;
    const axis = normAxis(attrInt(ctx.node, "axis", 0), rank);
    const metas = ctx.node.inputs.map((_, i) => ctx.input(i));
    const out = [...first.shape];
    let total: Dim = 0;
    for (const m of metas) {
      const d = m.shape[axis];
      total =
        typeof total === "number" && typeof d === "number"
          ? total + d
          : ctx.fail(`Concat along a symbolic axis`);
    }
    out[axis] = total;
    const values =
      metas.every((m) => m.value) && rank === 1 ? metas.flatMap((m) => m.value ?? []) : undefined;
    return [{ dtype: first.dtype, shape: out, value: values }];
  },
  // dXᵢ = the slice of dY that Xᵢ filled
  gradEach(ctx, i) {
    const { b, node } = ctx;
    const rank = ctx.meta(node.inputs[0]).shape.length;
    const axis = normAxis(attrInt(node, "axis", 0), rank);
    let start = 0;
    for (let j = 0; j < i; j++) start += ctx.meta(node.inputs[j]).shape[axis] as number;
    const x = node.inputs[i];
    const len = ctx.meta(x).shape[axis] as number;
    return b.op("Slice", [ctx.dY, b.i64([start]), b.i64([start + len]), b.i64([axis])], {}, `${x}_grad`);
  },
};

export const Shape: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0).shape;
    const rank = x.length;
    const clamp = (v: number) => Math.min(Math.max(normAxis(v, rank), 0), rank);
    const start = clamp(attrInt(ctx.node, "start", 0));
    const end = clamp(attrInt(ctx.node, "end", rank));
    const value = x.slice(start, end);
    return [{ dtype: "int64", shape: [value.length], value }];
  },
};

export const Size: OpRule = {
  shape(ctx: ShapeCtx) {
    const p = product(ctx.input(0).shape);
    return [{ dtype: "int64", shape: [], value: p.sym.length ? undefined : [p.n] }];
  },
};

function constantTensor(node: { attrs: Record<string, Attr> }): Meta {
  const a = node.attrs.value;
  if (a?.type === "tensor") return { dtype: a.t.dtype, shape: a.t.dims, value: tensorValue(a.t) };
  const vi = node.attrs.value_int;
  if (vi?.type === "int") return { dtype: "int64", shape: [], value: [vi.i] };
  const vis = node.attrs.value_ints;
  if (vis?.type === "ints") return { dtype: "int64", shape: [vis.ints.length], value: vis.ints };
  const vf = node.attrs.value_float;
  if (vf?.type === "float") return { dtype: "float32", shape: [], value: [vf.f] };
  const vfs = node.attrs.value_floats;
  if (vfs?.type === "floats") return { dtype: "float32", shape: [vfs.floats.length], value: vfs.floats };
  throw new Error("Constant node without a supported value attribute (value, value_int(s), value_float(s))");
}

export const Constant: OpRule = {
  shape(ctx: ShapeCtx) {
    try {
      return [constantTensor(ctx.node)];
    } catch (e) {
      return ctx.fail(e instanceof Error ? e.message : String(e));
    }
  },
};

export const Cast: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const to: DType = dtypeFromCode(attrInt(ctx.node, "to", 1));
    return [{ dtype: to, shape: x.shape, value: x.value }];
  },
  // dX = Cast(dY) back to X's type (float to float only; integer inputs carry no gradient)
  grad: {
    0(ctx) {
      const X = ctx.node.inputs[0];
      const from = ctx.meta(X).dtype;
      if (from !== "float32" && from !== "float64") return null;
      return ctx.b.cast(ctx.dY, from, `${X}_grad`);
    },
  },
};

export const Pad: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const mode = ctx.node.attrs.mode?.type === "string" ? ctx.node.attrs.mode.s : "constant";
    if (mode !== "constant") ctx.fail(`only mode "constant" is supported, got "${mode}"`);
    const pads = ctx.input(1).value;
    if (!pads || pads.some((p) => typeof p !== "number" || p < 0))
      ctx.fail("pads must be a constant of non-negative sizes");
    const rank = x.shape.length;
    const axes = ctx.has(3)
      ? (ctx.input(3).value as number[]).map((a) => normAxis(a, rank))
      : x.shape.map((_, i) => i);
    const out = [...x.shape];
    axes.forEach((a, i) => {
      const add = (pads[i] as number) + (pads[i + axes.length] as number);
      const d = out[a];
      if (add === 0) return;
      out[a] = typeof d === "number" ? d + add : ctx.fail(`cannot pad the symbolic axis ${a}`);
    });
    return [{ dtype: x.dtype, shape: out }];
  },
  // constant padding: dX is the window of dY where X was placed
  grad: {
    0(ctx) {
      const { b, node, dY } = ctx;
      const X = node.inputs[0];
      const xs = ctx.meta(X).shape;
      const rank = xs.length;
      const pads = ctx.meta(node.inputs[1]).value as number[];
      const axes = node.inputs[3]
        ? (ctx.meta(node.inputs[3]).value as number[]).map((a) => normAxis(a, rank))
        : xs.map((_, i) => i);
      const sliced = axes.filter((_, i) => pads[i] + pads[i + axes.length] > 0);
      if (!sliced.length) return dY;
      const starts = sliced.map((a) => pads[axes.indexOf(a)]);
      const ends = sliced.map((a, i) => starts[i] + (xs[a] as number));
      return b.op("Slice", [dY, b.i64(starts), b.i64(ends), b.i64(sliced)], {}, `${X}_grad`);
    },
  },
};
