// Broadcasting binary arithmetic, Where, and comparisons. Shape rules also evaluate small integer
// values (exporters compute attention head sizes as Shape → Gather → Div), keeping symbols symbolic.
import type { Dim, DType } from "../ir.ts";
import { broadcastShapes, type Grad, type GradCtx, type Meta, type OpRule, type ShapeCtx } from "./types.ts";

const INT_TYPES: DType[] = ["int64", "int32"];

/** Elementwise values of a small integer op, or undefined when a symbol or a float is involved. */
function evalValues(op: string, a: Meta, b: Meta): Dim[] | undefined {
  const av = a.value;
  const bv = b.value;
  if (!av || !bv || (av.length !== bv.length && av.length !== 1 && bv.length !== 1)) return undefined;
  if (!INT_TYPES.includes(a.dtype)) return undefined;
  const n = Math.max(av.length, bv.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = av[av.length === 1 ? 0 : i];
    const y = bv[bv.length === 1 ? 0 : i];
    if (typeof x !== "number" || typeof y !== "number") {
      // a symbol times or over 1, or plus 0, is itself
      if (op === "Mul" && (x === 1 || y === 1)) out.push(x === 1 ? y : x);
      else if ((op === "Div" && y === 1) || ((op === "Add" || op === "Sub") && y === 0)) out.push(x);
      else return undefined;
      continue;
    }
    if (op === "Add") out.push(x + y);
    else if (op === "Sub") out.push(x - y);
    else if (op === "Mul") out.push(x * y);
    else if (op === "Div") out.push(y === 0 ? Number.NaN : Math.trunc(x / y));
    else return undefined;
  }
  return out.some((v) => Number.isNaN(v)) ? undefined : out;
}

function binaryShape(ctx: ShapeCtx): Meta[] {
  const a = ctx.input(0);
  const b = ctx.input(1);
  const shape = broadcastShapes(a.shape, b.shape, ctx.fail);
  return [{ dtype: a.dtype, shape, value: evalValues(ctx.node.op, a, b) }];
}

const bc = (ctx: GradCtx, value: string): Grad => ({ value, from: ctx.meta(ctx.node.outputs[0]).shape });

export const Add: OpRule = {
  shape: binaryShape,
  // dA = dY, dB = dY (each un-broadcast)
  grad: {
    0: (ctx) => bc(ctx, ctx.dY),
    1: (ctx) => bc(ctx, ctx.dY),
  },
};

export const Sub: OpRule = {
  shape: binaryShape,
  // dA = dY, dB = −dY
  grad: {
    0: (ctx) => bc(ctx, ctx.dY),
    1: (ctx) => bc(ctx, ctx.b.op("Neg", [ctx.dY], {}, `${ctx.node.inputs[1]}_grad`)),
  },
};

export const Mul: OpRule = {
  shape: binaryShape,
  // dA = dY·B, dB = dY·A
  grad: {
    0: (ctx) => bc(ctx, ctx.b.op("Mul", [ctx.dY, ctx.node.inputs[1]], {}, `${ctx.node.inputs[0]}_grad`)),
    1: (ctx) => bc(ctx, ctx.b.op("Mul", [ctx.dY, ctx.node.inputs[0]], {}, `${ctx.node.inputs[1]}_grad`)),
  },
};

export const Div: OpRule = {
  shape: binaryShape,
  // Y = A/B: dA = dY/B, dB = −dY·A/B² = −dY·Y/B
  grad: {
    0: (ctx) => bc(ctx, ctx.b.op("Div", [ctx.dY, ctx.node.inputs[1]], {}, `${ctx.node.inputs[0]}_grad`)),
    1(ctx) {
      const { b, node } = ctx;
      const B = node.inputs[1];
      const yOverB = b.op("Div", [node.outputs[0], B], {}, `${B}_y_over_b`);
      return bc(ctx, b.op("Neg", [b.op("Mul", [ctx.dY, yOverB])], {}, `${B}_grad`));
    },
  },
};

export const Pow: OpRule = {
  shape(ctx) {
    const a = ctx.input(0);
    return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, ctx.input(1).shape, ctx.fail) }];
  },
  // Y = A^B: dA = dY·B·A^(B−1);  dB = dY·Y·ln A (A > 0)
  grad: {
    0(ctx) {
      const { b, node } = ctx;
      const [A, B] = node.inputs;
      const bm1 = b.op("Sub", [B, b.fconst(ctx.meta(B).dtype, 1)]);
      const local = b.op("Mul", [B, b.op("Pow", [A, bm1])]);
      return bc(ctx, b.op("Mul", [ctx.dY, local], {}, `${A}_grad`));
    },
    1(ctx) {
      const { b, node } = ctx;
      const [A, B] = node.inputs;
      const local = b.op("Mul", [node.outputs[0], b.op("Log", [A])]);
      return bc(ctx, b.op("Mul", [ctx.dY, local], {}, `${B}_grad`));
    },
  },
};

export const Where: OpRule = {
  shape(ctx) {
    const [c, x, y] = [ctx.input(0), ctx.input(1), ctx.input(2)];
    const shape = broadcastShapes(broadcastShapes(c.shape, x.shape, ctx.fail), y.shape, ctx.fail);
    return [{ dtype: x.dtype, shape }];
  },
  // dX = dY where C, else 0;  dY_ = dY where not C, else 0
  grad: {
    1(ctx) {
      const { b, node } = ctx;
      const g = b.op("Where", [node.inputs[0], ctx.dY, b.fconst(ctx.dtype, 0)], {}, `${node.inputs[1]}_grad`);
      return bc(ctx, g);
    },
    2(ctx) {
      const { b, node } = ctx;
      const g = b.op("Where", [node.inputs[0], b.fconst(ctx.dtype, 0), ctx.dY], {}, `${node.inputs[2]}_grad`);
      return bc(ctx, g);
    },
  },
};

/** Comparisons and logic give booleans and pass no gradient. */
const compare: OpRule = {
  shape(ctx) {
    const a = ctx.input(0);
    const shape = ctx.has(1) ? broadcastShapes(a.shape, ctx.input(1).shape, ctx.fail) : a.shape;
    return [{ dtype: "bool", shape }];
  },
};

export const Equal = compare;
export const Less = compare;
export const LessOrEqual = compare;
export const Greater = compare;
export const GreaterOrEqual = compare;
export const Not = compare;
export const And = compare;
export const Or = compare;
