// A tiny Gemm classifier built with the compiler's own ONNX codec, and a float64 JavaScript reference
// for its losses, gradients and PyTorch's optimizer updates, to check compiled graphs against.
import type { Model } from "../../src/graph/ir.ts";
import { encodeModel } from "../../src/graph/onnx.ts";
import type { OptimizerSpec } from "../../src/graph/optim.ts";
import { rng } from "./harness.ts";

export const F = 4;
export const C = 3;

export function linearModel(w: number[], bias: number[]): Uint8Array {
  const model: Model = {
    irVersion: 8,
    opsets: [{ domain: "", version: 17 }],
    producer: "test",
    graph: {
      name: "linear",
      inputs: [{ name: "input", dtype: "float32", shape: ["batch", F] }],
      outputs: [{ name: "logits", dtype: "float32", shape: ["batch", C] }],
      initializers: [
        { name: "W", dtype: "float32", dims: [C, F], data: Float32Array.from(w) },
        { name: "b", dtype: "float32", dims: [C], data: Float32Array.from(bias) },
      ],
      nodes: [
        {
          op: "Gemm",
          name: "fc",
          domain: "",
          inputs: ["input", "W", "b"],
          outputs: ["logits"],
          attrs: { transB: { type: "int", i: 1 } },
        },
      ],
    },
  };
  return encodeModel(model);
}

export function randomProblem(seed: number, batch: number) {
  const r = rng(seed);
  const u = () => r() * 2 - 1;
  const f32 = (v: number) => Math.fround(v);
  return {
    w: Array.from({ length: C * F }, () => f32(u() * 0.5)),
    b: Array.from({ length: C }, () => f32(u() * 0.1)),
    x: Array.from({ length: batch * F }, () => f32(u())),
    y: Array.from({ length: batch }, () => Math.floor(r() * C)),
  };
}

export type LossKind = "cross_entropy" | "mse" | "bce_with_logits";

/** Loss and dLoss/d[W, b] for the linear model, in float64. */
export function lossAndGrad(kind: LossKind, w: number[], b: number[], x: number[], y: number[]) {
  const B = y.length;
  const dW = new Array<number>(C * F).fill(0);
  const db = new Array<number>(C).fill(0);
  let loss = 0;
  for (let n = 0; n < B; n++) {
    const z = Array.from(
      { length: C },
      (_, c) =>
        b[c] + Array.from({ length: F }, (_, k) => w[c * F + k] * x[n * F + k]).reduce((s, v) => s + v, 0),
    );
    const t = Array.from({ length: C }, (_, c) => (c === y[n] ? 1 : 0));
    let dz: number[];
    if (kind === "cross_entropy") {
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const s = e.reduce((a, v) => a + v, 0);
      loss += -(z[y[n]] - m - Math.log(s)) / B;
      dz = e.map((v, c) => (v / s - t[c]) / B);
    } else if (kind === "mse") {
      loss += z.reduce((a, v, c) => a + (v - t[c]) ** 2, 0) / (B * C);
      dz = z.map((v, c) => (2 * (v - t[c])) / (B * C));
    } else {
      loss +=
        z.reduce((a, v, c) => a + Math.max(v, 0) - v * t[c] + Math.log1p(Math.exp(-Math.abs(v))), 0) /
        (B * C);
      dz = z.map((v, c) => (1 / (1 + Math.exp(-v)) - t[c]) / (B * C));
    }
    for (let c = 0; c < C; c++) {
      db[c] += dz[c];
      for (let k = 0; k < F; k++) dW[c * F + k] += dz[c] * x[n * F + k];
    }
  }
  return { loss, grads: [dW, db] };
}

/** PyTorch 1.13's update rules (torch/optim/*.py, single-tensor path), in float64. */
export function refUpdate(
  spec: OptimizerSpec,
  p: number[],
  g0: number[],
  st: Record<string, number[]>,
  lr: number,
  step: number,
): number[] {
  const wd = spec.weightDecay ?? (spec.kind === "adamw" ? 0.01 : 0);
  const n = p.length;
  const out = [...p];
  if (spec.kind === "sgd") {
    const mom = spec.momentum ?? 0;
    const damp = spec.dampening ?? 0;
    for (let i = 0; i < n; i++) {
      let d = g0[i] + wd * p[i];
      if (mom !== 0) {
        st.momentum_buffer[i] = step === 0 ? d : mom * st.momentum_buffer[i] + (1 - damp) * d;
        d = spec.nesterov ? d + mom * st.momentum_buffer[i] : st.momentum_buffer[i];
      }
      out[i] = p[i] - lr * d;
    }
    return out;
  }
  if (spec.kind === "adam" || spec.kind === "adamw") {
    const b1 = spec.beta1 ?? 0.9;
    const b2 = spec.beta2 ?? 0.999;
    const eps = spec.eps ?? 1e-8;
    const t = step + 1;
    for (let i = 0; i < n; i++) {
      let pi = p[i];
      let g = g0[i];
      if (spec.kind === "adamw") pi *= 1 - lr * wd;
      else g += wd * p[i];
      st.exp_avg[i] = b1 * st.exp_avg[i] + (1 - b1) * g;
      st.exp_avg_sq[i] = b2 * st.exp_avg_sq[i] + (1 - b2) * g * g;
      const denom = Math.sqrt(st.exp_avg_sq[i]) / Math.sqrt(1 - b2 ** t) + eps;
      out[i] = pi - (lr / (1 - b1 ** t)) * (st.exp_avg[i] / denom);
    }
    return out;
  }
  if (spec.kind !== "rmsprop") throw new Error("unreachable");
  const alpha = spec.alpha ?? 0.99;
  const eps = spec.eps ?? 1e-8;
  const mom = spec.momentum ?? 0;
  for (let i = 0; i < n; i++) {
    const g = g0[i] + wd * p[i];
    st.square_avg[i] = alpha * st.square_avg[i] + (1 - alpha) * g * g;
    let avg: number;
    if (spec.centered) {
      st.grad_avg[i] = alpha * st.grad_avg[i] + (1 - alpha) * g;
      avg = Math.sqrt(st.square_avg[i] - st.grad_avg[i] ** 2) + eps;
    } else avg = Math.sqrt(st.square_avg[i]) + eps;
    if (mom > 0) {
      st.momentum_buffer[i] = mom * st.momentum_buffer[i] + g / avg;
      out[i] = p[i] - lr * st.momentum_buffer[i];
    } else out[i] = p[i] - (lr * g) / avg;
  }
  return out;
}
