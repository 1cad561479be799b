// Every optimizer and loss against a float64 JavaScript transcription of PyTorch's definitions,
// over three single steps of a small linear classifier (covering first-step momentum and bias correction).
import { describe, expect, it } from "vitest";
import { compile, type LossKind, type OptimizerSpec } from "../../src/graph/compile.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";
import { C, F, linearModel, lossAndGrad, randomProblem, refUpdate } from "./linear-ref.ts";

const BATCH = 5;
const LR = 0.05;

async function runBoth(spec: OptimizerSpec, loss: LossKind = "cross_entropy") {
  const init = randomProblem(1, BATCH);
  const compiled = compile(linearModel(init.w, init.b), { optimizer: spec, loss });
  const session = await createSession(compiled.trainStep);
  const state: Record<string, Float32Array> = Object.fromEntries(
    compiled.tensors.map((t) => [t.name, t.init]),
  );
  let p = [init.w, init.b];
  const refState: Record<string, number[]>[] = [0, 1].map((i) => {
    const n = p[i].length;
    return {
      momentum_buffer: new Array(n).fill(0),
      exp_avg: new Array(n).fill(0),
      exp_avg_sq: new Array(n).fill(0),
      square_avg: new Array(n).fill(0),
      grad_avg: new Array(n).fill(0),
    };
  });
  const lossDiffs: number[] = [];
  const normDiffs: number[] = [];
  for (let step = 0; step < 3; step++) {
    const batch = randomProblem(100 + step, BATCH);
    const feeds: Record<string, HostTensor> = {
      x: { dims: [BATCH, F], data: Float32Array.from(batch.x) },
      y: { dims: [BATCH], data: BigInt64Array.from(batch.y.map(BigInt)) },
      lr: { dims: [], data: Float32Array.of(LR) },
      step: { dims: [], data: BigInt64Array.of(BigInt(step)) },
    };
    for (const [h, v] of Object.entries(compiled.hyperparameters))
      feeds[h] = { dims: [], data: Float32Array.of(v) };
    for (const t of compiled.tensors) feeds[t.name] = { dims: t.shape, data: state[t.name] };
    const out = await session.run(feeds);
    for (const t of compiled.tensors) state[t.name] = out[`${t.name}.next`].data as Float32Array;
    const ref = lossAndGrad(loss, p[0], p[1], batch.x, batch.y);
    lossDiffs.push(Math.abs(Number(out.loss.data[0]) - ref.loss));
    const norm = Math.sqrt(ref.grads.flat().reduce((s, g) => s + g * g, 0));
    normDiffs.push(Math.abs(Number(out.grad_norm.data[0]) - norm));
    p = p.map((pi, i) => refUpdate(spec, pi, ref.grads[i], refState[i], LR, step));
  }
  await session.release();
  const paramDiff = Math.max(
    ...Array.from(state.W, (v, i) => Math.abs(v - p[0][i])),
    ...Array.from(state.b, (v, i) => Math.abs(v - p[1][i])),
  );
  return { compiled, paramDiff, lossDiff: Math.max(...lossDiffs), normDiff: Math.max(...normDiffs) };
}

const SPECS: [string, OptimizerSpec][] = [
  ["plain SGD", { kind: "sgd" }],
  ["SGD with momentum and dampening", { kind: "sgd", momentum: 0.9, dampening: 0.3 }],
  [
    "SGD with Nesterov momentum and weight decay",
    { kind: "sgd", momentum: 0.8, nesterov: true, weightDecay: 0.1 },
  ],
  ["Adam with L2 weight decay", { kind: "adam", beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.05 }],
  ["AdamW with decoupled weight decay", { kind: "adamw", weightDecay: 0.1 }],
  ["RMSprop", { kind: "rmsprop" }],
  [
    "RMSprop centered with momentum and weight decay",
    { kind: "rmsprop", alpha: 0.9, momentum: 0.5, centered: true, weightDecay: 0.01, eps: 1e-4 },
  ],
];

describe("optimizer updates follow PyTorch's definitions", () => {
  for (const [name, spec] of SPECS) {
    it(`${name}: parameters after three steps match the float64 reference within 2e-6`, async () => {
      const r = await runBoth(spec);
      expect(r.paramDiff).toBeLessThan(2e-6);
      expect(r.lossDiff).toBeLessThan(1e-6);
      expect(r.normDiff).toBeLessThan(1e-6);
    });
  }

  it("lists each optimizer's state tensors after the parameters and its hyperparameters with their values", () => {
    const w = randomProblem(1, 1);
    const c = compile(linearModel(w.w, w.b), {
      optimizer: { kind: "rmsprop", momentum: 0.5, centered: true },
    });
    expect(c.tensors.map((t) => `${t.role}:${t.name}`)).toEqual([
      "param:W",
      "param:b",
      "optimizer:W.square_avg",
      "optimizer:W.momentum_buffer",
      "optimizer:W.grad_avg",
      "optimizer:b.square_avg",
      "optimizer:b.momentum_buffer",
      "optimizer:b.grad_avg",
    ]);
    expect(c.hyperparameters).toEqual({ alpha: 0.99, eps: 1e-8, momentum: 0.5 });
    expect(c.parameterCount).toBe(C * F + C);
  });

  it("rejects out-of-range hyperparameters with a message naming the value", () => {
    const w = randomProblem(1, 1);
    const bytes = linearModel(w.w, w.b);
    expect(() => compile(bytes, { optimizer: { kind: "adam", beta1: 1.5 } })).toThrow(
      /beta1 must be in \[0, 1\), got 1.5/,
    );
    expect(() => compile(bytes, { optimizer: { kind: "sgd", momentum: -1 } })).toThrow(
      /momentum must be ≥ 0/,
    );
    expect(() => compile(bytes, { optimizer: { kind: "sgd", nesterov: true } })).toThrow(
      /nesterov needs momentum > 0/,
    );
  });
});

describe("losses match their PyTorch definitions", () => {
  for (const loss of ["mse", "bce_with_logits", "cross_entropy"] as const) {
    it(`${loss}: loss, gradient norm and SGD updates match the float64 reference`, async () => {
      const r = await runBoth({ kind: "sgd", momentum: 0.5 }, loss);
      expect(r.lossDiff).toBeLessThan(1e-6);
      expect(r.normDiff).toBeLessThan(1e-6);
      expect(r.paramDiff).toBeLessThan(2e-6);
    });
  }
});
