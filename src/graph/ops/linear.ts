// Gemm and MatMul.
import { attrFloat, attrInt, float, int } from "../ir.ts";
import { broadcastShapes, type Grad, type GradCtx, type OpRule, type ShapeCtx } from "./types.ts";

export const Gemm: OpRule = {
  diff: [0, 1, 2],
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
  grad(ctx: GradCtx, [dY]) {
    if (!dY) return [null, null, null];
    const { b, node } = ctx;
    const [A, B] = node.inputs;
    const tA = attrInt(node, "transA", 0);
    const tB = attrInt(node, "transB", 0);
    const alpha = attrFloat(node, "alpha", 1);
    const beta = attrFloat(node, "beta", 1);
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
    const out: Grad[] = [null, null, null];
    if (ctx.needs(0)) {
      // dA' = α·dY·B'ᵀ; for transA, dA = (dA')ᵀ = α·B'·dYᵀ
      out[0] = tA ? gemm(B, dY, tB, 1, `${A}_grad`) : gemm(dY, B, 0, tB ? 0 : 1, `${A}_grad`);
    }
    if (ctx.needs(1)) {
      // dB' = α·A'ᵀ·dY; for transB, dB = (dB')ᵀ = α·dYᵀ·A'
      out[1] = tB ? gemm(dY, A, 1, tA, `${B}_grad`) : gemm(A, dY, tA ? 0 : 1, 0, `${B}_grad`);
    }
    if (node.inputs[2] && ctx.needs(2)) {
      // dC = β·dY, summed over the axes C was broadcast along
      const g = beta === 1 ? dY : b.op("Mul", [dY, b.fconst(ctx.dtype, beta)], {}, `${node.inputs[2]}_grad`);
      out[2] = { value: g, from: ctx.meta(node.outputs[0]).shape };
    }
    return out;
  },
};

function lastTwoSwapped(rank: number): number[] {
  const p = Array.from({ length: rank }, (_, i) => i);
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

export const MatMul: OpRule = {
  diff: [0, 1],
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
  grad(ctx, [dY]) {
    if (!dY) return [null, null];
    const { b, node } = ctx;
    const [A, B] = node.inputs;
    const a = ctx.meta(A).shape;
    const bs = ctx.meta(B).shape;
    const y = ctx.meta(node.outputs[0]).shape;
    const out: Grad[] = [null, null];
    if (ctx.needs(0)) {
      const bt = b.op(
        "Transpose",
        [B],
        { perm: { type: "ints", ints: lastTwoSwapped(bs.length) } },
        `${B}_T`,
      );
      out[0] = {
        value: b.op("MatMul", [dY, bt], {}, `${A}_grad`),
        from: [...y.slice(0, -2), a[a.length - 2], a[a.length - 1]],
      };
    }
    if (ctx.needs(1)) {
      const at = b.op("Transpose", [A], { perm: { type: "ints", ints: lastTwoSwapped(a.length) } }, `${A}_T`);
      out[1] = {
        value: b.op("MatMul", [at, dY], {}, `${B}_grad`),
        from: [...y.slice(0, -2), bs[bs.length - 2], bs[bs.length - 1]],
      };
    }
    return out;
  },
};
