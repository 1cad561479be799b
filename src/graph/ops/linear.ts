// Gemm and MatMul.
import { attrFloat, attrInt, float, int, ints } from "../ir.ts";
import { broadcastShapes, type Grad, type GradCtx, type OpRule, type ShapeCtx } from "./types.ts";

export const Gemm: OpRule = {
  shape(ctx: ShapeCtx) {
    const a = ctx.input(0).shape;
    const b = ctx.input(1).shape;
    if (a.length !== 2 || b.length !== 2) ctx.fail(`Gemm needs 2-D A and B, got [${a}] and [${b}]`);
    const tA = attrInt(ctx.node, "transA", 0);
    const tB = attrInt(ctx.node, "transB", 0);
    const [m, ka] = tA ? [a[1], a[0]] : [a[0], a[1]];
    const [kb, n] = tB ? [b[1], b[0]] : [b[0], b[1]];
    if (ka !== kb)
      ctx.fail(`Gemm inner dimensions differ: A is [${a}], B is [${b}] (transA=${tA}, transB=${tB})`);
    const out = [m, n];
    if (ctx.has(2)) broadcastShapes(out, ctx.input(2).shape, ctx.fail);
    return [{ dtype: ctx.input(0).dtype, shape: out }];
  },
  // Y = α·A'·B' + β·C with A' = transA ? Aᵀ : A and B' = transB ? Bᵀ : B.
  grad: {
    0(ctx) {
      // dA' = α·dY·B'ᵀ; for transA, dA = (dA')ᵀ = α·B'·dYᵀ
      const { A, B, tA, tB, gemm } = gemmParts(ctx);
      return tA ? gemm(B, ctx.dY, tB, 1, `${A}_grad`) : gemm(ctx.dY, B, 0, tB ? 0 : 1, `${A}_grad`);
    },
    1(ctx) {
      // dB' = α·A'ᵀ·dY; for transB, dB = (dB')ᵀ = α·dYᵀ·A'
      const { A, B, tA, tB, gemm } = gemmParts(ctx);
      return tB ? gemm(ctx.dY, A, 1, tA, `${B}_grad`) : gemm(A, ctx.dY, tA ? 0 : 1, 0, `${B}_grad`);
    },
    2(ctx) {
      // dC = β·dY, summed over the axes C was broadcast along
      const { b, node, dY } = ctx;
      const beta = attrFloat(node, "beta", 1);
      const g = beta === 1 ? dY : b.op("Mul", [dY, b.fconst(ctx.dtype, beta)], {}, `${node.inputs[2]}_grad`);
      return { value: g, from: ctx.meta(node.outputs[0]).shape };
    },
  },
};

function gemmParts(ctx: GradCtx) {
  const { b, node } = ctx;
  const [A, B] = node.inputs;
  const alpha = attrFloat(node, "alpha", 1);
  const gemm = (x: string, y: string, ta: number, tb: number, hint: string) =>
    b.op(
      "Gemm",
      [x, y],
      {
        ...(ta ? { transA: int(1) } : {}),
        ...(tb ? { transB: int(1) } : {}),
        ...(alpha !== 1 ? { alpha: float(alpha) } : {}),
      },
      hint,
    );
  return { A, B, tA: attrInt(node, "transA", 0), tB: attrInt(node, "transB", 0), gemm };
}

function lastTwoSwapped(rank: number): number[] {
  const p = Array.from({ length: rank }, (_, i) => i);
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

export const MatMul: OpRule = {
  shape(ctx: ShapeCtx) {
    const a = ctx.input(0).shape;
    const b = ctx.input(1).shape;
    if (a.length < 2 || b.length < 2)
      ctx.fail(`MatMul with 1-D operands is not supported, got [${a}] and [${b}]`);
    if (a[a.length - 1] !== b[b.length - 2]) ctx.fail(`MatMul inner dimensions differ: [${a}] and [${b}]`);
    const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2), ctx.fail);
    return [{ dtype: ctx.input(0).dtype, shape: [...batch, a[a.length - 2], b[b.length - 1]] }];
  },
  // dA = dY·Bᵀ, dB = Aᵀ·dY, each summed over broadcast batch axes
  grad: {
    0: (ctx) => matmulGrad(ctx, 0),
    1: (ctx) => matmulGrad(ctx, 1),
  },
};

/** dA = dY·Bᵀ (which = 0) or dB = Aᵀ·dY (which = 1), shaped as the broadcast product for the driver. */
function matmulGrad(ctx: GradCtx, which: 0 | 1): Grad {
  const { b, node } = ctx;
  const [A, B] = node.inputs;
  const other = which === 0 ? B : A;
  const rank = ctx.meta(other).shape.length;
  const t = b.op("Transpose", [other], { perm: ints(lastTwoSwapped(rank)) }, `${other}_T`);
  const self = ctx.meta(node.inputs[which]).shape;
  const y = ctx.meta(node.outputs[0]).shape;
  return {
    value: b.op("MatMul", which === 0 ? [ctx.dY, t] : [t, ctx.dY], {}, `${node.inputs[which]}_grad`),
    from: [...y.slice(0, -2), self[self.length - 2], self[self.length - 1]],
  };
}
