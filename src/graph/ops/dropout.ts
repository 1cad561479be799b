// Dropout with masks that are a pure function of (seed, global step, node, element).
//
// Why not RandomUniformLike: without a seed attribute ORT draws consecutive seeds per session, so a
// run resumed from a checkpoint, or one that packs a different number of steps into each Loop, would
// see different masks; with a fixed seed attribute every step would see the same mask. Instead each
// element's uniform number is a counter-based hash computed in int64 arithmetic from the `step`
// input, a per-node seed and the element's flat index:
//   h₀ = (index·A + step·B + seed) mod P,  hᵢ₊₁ = (hᵢ² + cᵢ) mod P (three rounds),  u = h₃ / P
// with P = 2³¹ − 1 (prime) so every product stays below 2⁶² and never overflows int64.
import { attrFloat } from "../ir.ts";
import type { ForwardCtx, OpRule } from "./types.ts";

const P = 2147483647;
const A = 1103515245;
const B = 1000003;
const ROUNDS = [12345, 2891336453 % P, 48271];

export function dropoutRatio(ctx: { node: ForwardCtx["node"]; meta: ForwardCtx["meta"] }): number {
  const { node } = ctx;
  if (node.inputs[1]) {
    const v = ctx.meta(node.inputs[1]).value;
    if (!v || typeof v[0] !== "number")
      throw new Error(`Dropout node "${node.name}": the ratio must be a constant`);
    return v[0];
  }
  return attrFloat(node, "ratio", 0.5);
}

/** Uniform [0,1) numbers shaped like `x`, from the counter-based hash above. */
export function hashUniform(ctx: ForwardCtx, x: string, dtype: "float32" | "float64"): string {
  const { b } = ctx;
  if (!ctx.step) throw new Error("dropout in training needs the step input");
  const size = b.op("Size", [x]);
  const flatIdx = b.op("Range", [b.i64(0), size, b.i64(1)], {}, "dropout_index");
  const idx = b.op("Reshape", [flatIdx, b.op("Shape", [x])]);
  const p = b.i64(P);
  const stepTerm = b.op("Add", [b.op("Mul", [ctx.step, b.i64(B)]), b.i64(ctx.nodeSeed % P)]);
  let h = b.op("Mod", [b.op("Add", [b.op("Mul", [idx, b.i64(A % P)]), stepTerm]), p], {}, "dropout_hash");
  for (const c of ROUNDS)
    h = b.op("Mod", [b.op("Add", [b.op("Mul", [h, h]), b.i64(c)]), p], {}, "dropout_hash");
  const hf = b.cast(h, dtype);
  return b.op("Div", [hf, b.fconst(dtype, P)], {}, "dropout_uniform");
}

export const Dropout: OpRule = {
  shape(ctx) {
    const x = ctx.input(0);
    return [
      { dtype: x.dtype, shape: x.shape },
      { dtype: "bool", shape: x.shape },
    ];
  },
  forward(ctx) {
    const { b, node } = ctx;
    const [X] = node.inputs;
    const [Y, maskOut] = node.outputs;
    const ratio = dropoutRatio(ctx);
    if (ctx.mode === "eval" || !ctx.dropout || ratio === 0) {
      b.raw({ op: "Identity", name: node.name, domain: "", inputs: [X], outputs: [Y], attrs: {} });
      return;
    }
    const dtype = ctx.meta(X).dtype === "float64" ? "float64" : "float32";
    const u = hashUniform(ctx, X, dtype);
    // keep where u ≥ ratio; kept values are scaled by 1/(1 − ratio) so the expectation is unchanged
    const keep = maskOut || b.fresh(`${Y}_keep`);
    b.raw({
      op: "GreaterOrEqual",
      name: `${node.name}_keep`,
      domain: "",
      inputs: [u, b.fconst(dtype, ratio)],
      outputs: [keep],
      attrs: {},
    });
    const mask = b.op("Mul", [b.cast(keep, dtype), b.fconst(dtype, 1 / (1 - ratio))], {}, `${Y}_mask`);
    b.raw({ op: "Mul", name: node.name, domain: "", inputs: [X, mask], outputs: [Y], attrs: {} });
    ctx.save("mask", mask);
  },
  // dX = dY ⊙ mask (the same scaled mask the forward pass applied; no mask when dropout was off)
  grad: {
    0(ctx) {
      const mask = ctx.maybeSaved("mask");
      return mask ? ctx.b.op("Mul", [ctx.dY, mask], {}, `${ctx.node.inputs[0]}_grad`) : ctx.dY;
    },
  },
};
