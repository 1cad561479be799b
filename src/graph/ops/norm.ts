// BatchNormalization. Training uses batch statistics and carries the running mean/var as state
// (role "bn_running"); evaluation uses the running statistics. The running variance is updated with
// the unbiased batch variance (m/(m−1)), as PyTorch does (ONNX's reference uses the biased one):
//   running ← running·momentum + batch·(1 − momentum)     (ONNX momentum = 1 − PyTorch momentum)
import { type Attr, attrFloat, attrInt, type Node } from "../ir.ts";
import { type ForwardCtx, type GradCtx, normAxis, type OpRule, type ShapeCtx } from "./types.ts";

function statAxes(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
}

/** [C] → [1, C, 1, …] so per-channel vectors broadcast against NC… tensors. */
function perChannel(ctx: { b: ForwardCtx["b"] }, v: string, rank: number, c: number): string {
  return ctx.b.op("Reshape", [v, ctx.b.i64([1, c, ...new Array(rank - 2).fill(1)])], {}, `${v}_bc`);
}

export const BatchNormalization: OpRule = {
  stateInputs: [3, 4],
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    if (x.shape.length < 2) ctx.fail(`input must be [N, C, …], got [${x.shape}]`);
    const c = x.shape[1];
    return [
      { dtype: x.dtype, shape: x.shape },
      { dtype: x.dtype, shape: [c] },
      { dtype: x.dtype, shape: [c] },
    ];
  },
  forward(ctx) {
    const { b, node } = ctx;
    const [X, scale, bias, runMean, runVar] = node.inputs;
    const xs = ctx.meta(X).shape;
    const rank = xs.length;
    const C = xs[1];
    if (typeof C !== "number")
      throw new Error(`BatchNormalization node "${node.name}": the channel count must be static`);
    const eps = attrFloat(node, "epsilon", 1e-5);
    if (ctx.mode === "eval") {
      const { training_mode: _t, ...attrs } = node.attrs;
      b.raw({ ...node, outputs: [node.outputs[0]], attrs: attrs as Record<string, Attr> } as Node);
      return;
    }
    const momentum = attrFloat(node, "momentum", 0.9);
    const dtype = ctx.meta(X).dtype;
    const axes = statAxes(rank);
    // μ = mean(X), σ² = mean((X − μ)²) over every axis but the channel axis
    const mean = b.reduce("ReduceMean", X, axes, true, `${X}_mean`);
    const xc = b.op("Sub", [X, mean], {}, `${X}_centered`);
    const variance = b.reduce("ReduceMean", b.op("Mul", [xc, xc]), axes, true, `${X}_var`);
    // x̂ = (X − μ)/√(σ² + ε);  Y = x̂·γ + β
    const inv = b.op(
      "Reciprocal",
      [b.op("Sqrt", [b.op("Add", [variance, b.fconst(dtype, eps)])])],
      {},
      `${X}_inv_std`,
    );
    const xhat = b.op("Mul", [xc, inv], {}, `${X}_hat`);
    const scaled = b.op("Mul", [xhat, perChannel(ctx, scale, rank, C)]);
    b.raw({
      op: "Add",
      name: node.name,
      domain: "",
      inputs: [scaled, perChannel(ctx, bias, rank, C)],
      outputs: [node.outputs[0]],
      attrs: {},
    });
    ctx.save("xhat", xhat);
    ctx.save("inv", inv);
    // running statistics: m = N·H·W elements per channel; unbiased variance σ²·m/(m − 1)
    const m = b.op("Div", [b.cast(b.op("Size", [X]), dtype), b.fconst(dtype, C)], {}, `${X}_count`);
    // (a batch with one value per channel has no unbiased variance; PyTorch refuses it, we keep the
    // running variance finite by using the biased one, which is then 0)
    const one = b.fconst(dtype, 1);
    const unbiased = b.op("Div", [m, b.op("Max", [b.op("Sub", [m, one]), one])]);
    const flatMean = b.op("Reshape", [mean, b.i64([C])]);
    const flatVar = b.op("Mul", [b.op("Reshape", [variance, b.i64([C])]), unbiased]);
    const keep = b.fconst(dtype, momentum);
    const take = b.fconst(dtype, 1 - momentum);
    const newMean = b.op(
      "Add",
      [b.op("Mul", [runMean, keep]), b.op("Mul", [flatMean, take])],
      {},
      `${ctx.source.inputs[3]}_updated`,
    );
    const newVar = b.op(
      "Add",
      [b.op("Mul", [runVar, keep]), b.op("Mul", [flatVar, take])],
      {},
      `${ctx.source.inputs[4]}_updated`,
    );
    ctx.stateUpdate(ctx.source.inputs[3], newMean);
    ctx.stateUpdate(ctx.source.inputs[4], newVar);
  },
  // With g = dY·γ: dX = inv·(g − mean(g) − x̂·mean(g·x̂));  dγ = Σ dY·x̂;  dβ = Σ dY
  grad: {
    0(ctx) {
      const { b, node, dY } = ctx;
      const [X, scale] = node.inputs;
      const { rank, C, axes } = bnAxes(ctx);
      const xhat = ctx.saved("xhat");
      const g = b.op("Mul", [dY, perChannel(ctx, scale, rank, C)]);
      const meanG = b.reduce("ReduceMean", g, axes, true);
      const meanGX = b.reduce("ReduceMean", b.op("Mul", [g, xhat]), axes, true);
      const inner = b.op("Sub", [b.op("Sub", [g, meanG]), b.op("Mul", [xhat, meanGX])]);
      return b.op("Mul", [inner, ctx.saved("inv")], {}, `${X}_grad`);
    },
    1: (ctx) =>
      ctx.b.reduceSum(
        ctx.b.op("Mul", [ctx.dY, ctx.saved("xhat")]),
        bnAxes(ctx).axes,
        false,
        `${ctx.node.inputs[1]}_grad`,
      ),
    2: (ctx) => ctx.b.reduceSum(ctx.dY, bnAxes(ctx).axes, false, `${ctx.node.inputs[2]}_grad`),
  },
};

function bnAxes(ctx: GradCtx): { rank: number; C: number; axes: number[] } {
  const xs = ctx.meta(ctx.node.inputs[0]).shape;
  return { rank: xs.length, C: xs[1] as number, axes: statAxes(xs.length) };
}

// LayerNormalization (opset 17): normalizes over the axes from `axis` to the last, then scales and
// shifts elementwise. Training asks the node for its Mean and InvStdDev outputs and reuses them.
export const LayerNormalization: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const rank = x.shape.length;
    const axis = normAxis(attrInt(ctx.node, "axis", -1), rank);
    const stat = x.shape.map((d, i) => (i < axis ? d : 1));
    return [
      { dtype: x.dtype, shape: x.shape },
      { dtype: x.dtype, shape: stat },
      { dtype: x.dtype, shape: stat },
    ];
  },
  forward(ctx) {
    const { b, node } = ctx;
    if (ctx.mode === "eval") return b.raw({ ...node, outputs: [node.outputs[0]] });
    const X = node.inputs[0];
    if (ctx.meta(X).dtype === "float64") {
      // onnxruntime's CPU kernel keeps double-precision statistics in float: in float64 (gradient
      // checks) write the same math out, μ = mean_A(X), inv = 1/√(mean_A((X − μ)²) + ε)
      const rank = ctx.meta(X).shape.length;
      const axis = normAxis(attrInt(node, "axis", -1), rank);
      const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
      const xc = b.op("Sub", [X, b.reduce("ReduceMean", X, axes, true)]);
      const variance = b.reduce("ReduceMean", b.op("Mul", [xc, xc]), axes, true);
      const eps = b.fconst("float64", attrFloat(node, "epsilon", 1e-5));
      const inv = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [variance, eps])])]);
      const xhat = b.op("Mul", [xc, inv], {}, `${X}_hat`);
      const scaled = b.op("Mul", [xhat, node.inputs[1]]);
      const [Y] = node.outputs;
      if (node.inputs[2])
        b.raw({
          op: "Add",
          name: node.name,
          domain: "",
          inputs: [scaled, node.inputs[2]],
          outputs: [Y],
          attrs: {},
        });
      else b.raw({ op: "Identity", name: node.name, domain: "", inputs: [scaled], outputs: [Y], attrs: {} });
      ctx.save("inv", inv);
      ctx.save("xhat", xhat);
      return;
    }
    const mean = node.outputs[1] || b.fresh(`${node.outputs[0]}_mean`);
    const inv = node.outputs[2] || b.fresh(`${node.outputs[0]}_inv_std`);
    b.raw({ ...node, outputs: [node.outputs[0], mean, inv] });
    ctx.save("inv", inv);
    // x̂ = (X − μ)·inv, which both dX and dγ use
    ctx.save("xhat", b.op("Mul", [b.op("Sub", [X, mean]), inv], {}, `${X}_hat`));
  },
  // x̂ = (X − μ)·inv, g = dY·γ over the normalized axes A:
  //   dX = inv·(g − mean_A(g) − x̂·mean_A(g·x̂));  dγ = Σ_lead dY·x̂;  dβ = Σ_lead dY
  grad: {
    0(ctx) {
      const { b, node, dY } = ctx;
      const [X, scale] = node.inputs;
      const { axes, xhat } = lnParts(ctx);
      const g = b.op("Mul", [dY, scale]);
      const meanG = b.reduce("ReduceMean", g, axes, true);
      const meanGX = b.reduce("ReduceMean", b.op("Mul", [g, xhat]), axes, true);
      const inner = b.op("Sub", [b.op("Sub", [g, meanG]), b.op("Mul", [xhat, meanGX])]);
      return b.op("Mul", [inner, ctx.saved("inv")], {}, `${X}_grad`);
    },
    1(ctx) {
      const { xhat } = lnParts(ctx);
      const value = ctx.b.op("Mul", [ctx.dY, xhat], {}, `${ctx.node.inputs[1]}_grad`);
      return { value, from: ctx.meta(ctx.node.inputs[0]).shape };
    },
    2: (ctx) => ({ value: ctx.dY, from: ctx.meta(ctx.node.inputs[0]).shape }),
  },
};

/** The normalized axes and x̂ saved by the forward pass. */
function lnParts(ctx: GradCtx): { axes: number[]; xhat: string } {
  const rank = ctx.meta(ctx.node.inputs[0]).shape.length;
  const axis = normAxis(attrInt(ctx.node, "axis", -1), rank);
  return { axes: Array.from({ length: rank - axis }, (_, i) => axis + i), xhat: ctx.saved("xhat") };
}
