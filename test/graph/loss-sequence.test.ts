// Cross-entropy over per-position logits [B, T, V] with labels [B, T] (a language model): mean over
// the counted positions, ignore index −100, token accuracy. Checked against a direct computation in
// JS for a one-layer token model (embedding → linear), including one SGD step's weight update.
import { describe, expect, it } from "vitest";
import { compile } from "../../src/graph/compile.ts";
import type { Model } from "../../src/graph/ir.ts";
import { encodeModel } from "../../src/graph/onnx.ts";
import { mulberry32 } from "../../src/train/data/prng.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";

const [V, D, T, B] = [5, 3, 4, 2];
const r = mulberry32(7);
const E = Float32Array.from({ length: V * D }, () => r() * 2 - 1);
const W = Float32Array.from({ length: D * V }, () => r() * 2 - 1);
const bias = Float32Array.from({ length: V }, () => r() * 0.2 - 0.1);

function tokenModel(): Uint8Array {
  const m: Model = {
    irVersion: 8,
    opsets: [{ domain: "", version: 17 }],
    producer: "test",
    graph: {
      name: "token_lm",
      inputs: [{ name: "tokens", dtype: "int64", shape: ["batch", T] }],
      outputs: [{ name: "logits", dtype: "float32", shape: ["batch", T, V] }],
      initializers: [
        { name: "emb", dtype: "float32", dims: [V, D], data: E },
        { name: "W", dtype: "float32", dims: [D, V], data: W },
        { name: "b", dtype: "float32", dims: [V], data: bias },
      ],
      nodes: [
        { op: "Gather", name: "lookup", domain: "", inputs: ["emb", "tokens"], outputs: ["h"], attrs: {} },
        { op: "MatMul", name: "proj", domain: "", inputs: ["h", "W"], outputs: ["hw"], attrs: {} },
        { op: "Add", name: "shift", domain: "", inputs: ["hw", "b"], outputs: ["logits"], attrs: {} },
      ],
    },
  };
  return encodeModel(m);
}

/** loss, accuracy and dL/dW computed directly, positions with label −100 left out. */
function reference(x: number[], y: number[]) {
  let loss = 0;
  let hits = 0;
  let n = 0;
  const dW = new Float64Array(D * V);
  for (let p = 0; p < x.length; p++) if (y[p] !== -100) n++;
  for (let p = 0; p < x.length; p++) {
    if (y[p] === -100) continue;
    const h = Array.from({ length: D }, (_, d) => E[x[p] * D + d]);
    const z = Array.from({ length: V }, (_, v) => bias[v] + h.reduce((s, hd, d) => s + hd * W[d * V + v], 0));
    const mx = Math.max(...z);
    const e = z.map((v) => Math.exp(v - mx));
    const sum = e.reduce((a, c) => a + c, 0);
    loss -= Math.log(e[y[p]] / sum);
    if (z.indexOf(mx) === y[p]) hits++;
    for (let d = 0; d < D; d++)
      for (let v = 0; v < V; v++) dW[d * V + v] += (h[d] * (e[v] / sum - (v === y[p] ? 1 : 0))) / n;
  }
  return { loss: loss / n, accuracy: hits / n, dW };
}

async function step(x: number[], y: number[]) {
  const c = compile(tokenModel(), { optimizer: { kind: "sgd" } });
  const s = await createSession(c.trainStep);
  const feeds: Record<string, HostTensor> = {
    x: { dims: [B, T], data: BigInt64Array.from(x.map(BigInt)) },
    y: { dims: [B, T], data: BigInt64Array.from(y.map(BigInt)) },
    lr: { dims: [], data: Float32Array.of(0.5) },
    step: { dims: [], data: BigInt64Array.of(0n) },
  };
  for (const [h, v] of Object.entries(c.hyperparameters)) feeds[h] = { dims: [], data: Float32Array.of(v) };
  for (const t of c.tensors) feeds[t.name] = { dims: t.shape, data: t.init };
  const out = await s.run(feeds);
  await s.release();
  return { c, out };
}

describe("cross-entropy over per-position logits", () => {
  const x = [1, 4, 2, 0, 3, 3, 1, 2];

  it("compiles [B, T, V] logits with [B, T] labels and int64 token inputs", () => {
    const c = compile(tokenModel(), { optimizer: { kind: "sgd" } });
    expect(c.labelShape).toEqual([T]);
    expect(c.classes).toBe(V);
    expect(c.input.dtype).toBe("int64");
  });

  it("loss, token accuracy and the SGD update match a direct computation, with −100 positions ignored", async () => {
    const y = [2, -100, 0, 4, 1, 1, -100, 3];
    const { out } = await step(x, y);
    const ref = reference(x, y);
    expect(Number(out.loss.data[0])).toBeCloseTo(ref.loss, 5);
    expect(Number(out.accuracy.data[0])).toBeCloseTo(ref.accuracy, 6);
    const next = out["W.next"].data as Float32Array;
    for (let i = 0; i < W.length; i++) expect(next[i]).toBeCloseTo(W[i] - 0.5 * ref.dW[i], 5);
  });

  it("positions labelled −100 are left out of the mean, not counted as class 0", async () => {
    const a = await step(x, [2, -100, 0, 4, 1, 1, -100, 3]);
    const counted = reference(x, [2, 0, 0, 4, 1, 1, 0, 3]);
    expect(Math.abs(Number(a.out.loss.data[0]) - counted.loss)).toBeGreaterThan(1e-3);
    expect(Number(a.out.loss.data[0])).toBeCloseTo(reference(x, [2, -100, 0, 4, 1, 1, -100, 3]).loss, 5);
  });

  it("a batch of padding only has loss 0 and leaves the weights as they were", async () => {
    const { out } = await step(x, new Array(B * T).fill(-100));
    expect(Number(out.loss.data[0])).toBe(0);
    expect(Array.from(out["W.next"].data as Float32Array)).toEqual(Array.from(W));
  });

  it("per-position logits with a loss other than cross-entropy are refused, naming the accepted one", () => {
    expect(() => compile(tokenModel(), { optimizer: { kind: "sgd" }, loss: "mse" })).toThrow(
      /loss mse is not available for per-position logits \[batch, 4, 5\] \(accepted: cross_entropy\)/,
    );
  });
});
