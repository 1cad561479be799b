// Reductions over axes: ReduceMean, ReduceSum, ReduceMax (axes as an attribute before opset 18, as an
// input after; ReduceSum takes an input since opset 13; keepdims either way; no axes = every axis).
import { attrInt, attrInts, type Dim } from "../ir.ts";
import { type GradCtx, type Meta, normAxis, type OpRule, type ShapeCtx } from "./types.ts";

/** The reduced axes (normalized), or every axis when none are given (noop_with_empty_axes = 0). */
function reducedAxes(
  node: GradCtx["node"],
  rank: number,
  axesValue: Dim[] | undefined,
  fail: (m: string) => never,
) {
  const attr = attrInts(node, "axes");
  let axes: number[] | undefined = attr;
  if (!axes && node.inputs[1]) {
    if (!axesValue || axesValue.some((a) => typeof a !== "number")) fail("axes must be a constant");
    axes = axesValue as number[];
  }
  if (!axes || axes.length === 0) {
    if (attrInt(node, "noop_with_empty_axes", 0)) fail("noop_with_empty_axes = 1 is not supported");
    return Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => normAxis(a, rank)).sort((a, b) => a - b);
}

function reduceShape(ctx: ShapeCtx): Meta[] {
  const x = ctx.input(0);
  const axes = reducedAxes(ctx.node, x.shape.length, ctx.has(1) ? ctx.input(1).value : undefined, ctx.fail);
  const keep = attrInt(ctx.node, "keepdims", 1) === 1;
  const shape = keep
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  return [{ dtype: x.dtype, shape }];
}

/** Axes and dY with the reduced axes kept (size 1), ready to broadcast against X. */
function keptGrad(ctx: GradCtx): { axes: number[]; dYk: string; X: string } {
  const { node, b } = ctx;
  const X = node.inputs[0];
  const rank = ctx.meta(X).shape.length;
  const axesValue = node.inputs[1] ? ctx.meta(node.inputs[1]).value : undefined;
  const axes = reducedAxes(node, rank, axesValue, ctx.fail);
  const keep = attrInt(node, "keepdims", 1) === 1;
  return { axes, X, dYk: keep ? ctx.dY : b.unsqueeze(ctx.dY, axes, `${X}_dy_kept`) };
}

/** Number of elements each output averages, as a float scalar (symbolic axes are counted at run time). */
function count(ctx: GradCtx, X: string, axes: number[]): string {
  const { b } = ctx;
  const dims = axes.map((a) => ctx.meta(X).shape[a]);
  if (dims.every((d) => typeof d === "number"))
    return b.fconst(
      ctx.dtype,
      (dims as number[]).reduce((p, d) => p * d, 1),
    );
  const shape = b.op("Shape", [X]);
  const picked = b.op("Gather", [shape, b.i64(axes)]);
  return b.cast(b.op("ReduceProd", [picked], { keepdims: { type: "int", i: 0 } }), ctx.dtype, `${X}_count`);
}

export const ReduceSum: OpRule = {
  shape: reduceShape,
  // dX = dY broadcast back over the reduced axes
  grad: {
    0(ctx) {
      const { b } = ctx;
      const { X, dYk } = keptGrad(ctx);
      return b.op("Expand", [dYk, b.op("Shape", [X])], {}, `${X}_grad`);
    },
  },
};

export const ReduceMean: OpRule = {
  shape: reduceShape,
  // dX = dY/n broadcast back over the reduced axes (n = elements per output)
  grad: {
    0(ctx) {
      const { b } = ctx;
      const { X, dYk, axes } = keptGrad(ctx);
      const scaled = b.op("Div", [dYk, count(ctx, X, axes)]);
      return b.op("Expand", [scaled, b.op("Shape", [X])], {}, `${X}_grad`);
    },
  },
};

export const ReduceMax: OpRule = {
  shape: reduceShape,
  // dX = dY·[X = max]/(number of maxima): ties share the gradient evenly, as PyTorch's amax does
  grad: {
    0(ctx) {
      const { b, node } = ctx;
      const { X, dYk, axes } = keptGrad(ctx);
      const keep = attrInt(node, "keepdims", 1) === 1;
      const Yk = keep ? node.outputs[0] : b.unsqueeze(node.outputs[0], axes, `${X}_max_kept`);
      const mask = b.cast(b.op("Equal", [X, Yk]), ctx.dtype, `${X}_is_max`);
      const ties = b.reduceSum(mask, axes, true, `${X}_max_count`);
      return b.op("Mul", [mask, b.op("Div", [dYk, ties])], {}, `${X}_grad`);
    },
  },
};
