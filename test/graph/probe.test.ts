// The noise probe graph against closed forms: softmax regression's per-example gradients are exact in
// float64, so the true |G|² and tr(Σ) of the full data are known, and the probe's losses can be
// recomputed by hand.
import { describe, expect, it } from "vitest";
import { analyse } from "../../src/graph/compile.ts";
import type { Model } from "../../src/graph/ir.ts";
import { decodeModel, encodeModel } from "../../src/graph/onnx.ts";
import { compileProbe, MAX_HANDOFF_PER_SAMPLE, sharedPrefix } from "../../src/graph/probe.ts";
import { gradientNoise } from "../../src/stats/noise.ts";
import { builtinModelBytes } from "../../src/train/catalog.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";
import { rng } from "./harness.ts";
import { C, F, linearModel, lossAndGrad } from "./linear-ref.ts";

const N = 200;

function problem() {
  const r = rng(7);
  const u = () => r() * 2 - 1;
  const w = Array.from({ length: C * F }, () => Math.fround(u() * 0.5));
  const b = Array.from({ length: C }, () => Math.fround(u() * 0.1));
  const x = Array.from({ length: N * F }, () => Math.fround(u()));
  // labels follow a rule the weights do not know yet, so the full gradient is far from zero
  const y = Array.from({ length: N }, (_, n) => (x[n * F] + 0.3 * u() > 0 ? 0 : x[n * F + 1] > 0 ? 1 : 2));
  return { w, b, x, y };
}

/** The full data's gradient G = mean gᵢ, |G|², and tr(Σ) = mean |gᵢ − G|², in float64. */
function reference(p: ReturnType<typeof problem>) {
  const per = Array.from({ length: N }, (_, n) => {
    const { grads } = lossAndGrad("cross_entropy", p.w, p.b, p.x.slice(n * F, n * F + F), [p.y[n]]);
    return [...grads[0], ...grads[1]];
  });
  const D = per[0].length;
  const G = Array.from({ length: D }, (_, d) => per.reduce((s, g) => s + g[d], 0) / N);
  const g2 = G.reduce((s, v) => s + v * v, 0);
  const trace = per.reduce((s, g) => s + g.reduce((t, v, d) => t + (v - G[d]) ** 2, 0), 0) / N;
  return { g2, trace };
}

function feedsFor(p: ReturnType<typeof problem>, ids: number[], lead: number[]) {
  const x = new Float32Array(ids.length * F);
  ids.forEach((id, i) => {
    x.set(p.x.slice(id * F, id * F + F), i * F);
  });
  const y = BigInt64Array.from(ids, (id) => BigInt(p.y[id]));
  return { x: { dims: [...lead, F], data: x }, y: { dims: lead, data: y } };
}

describe("noise probe graph", () => {
  it("estimates the full data's |G|² and tr(Σ) without bias: the mean over 4,000 half-batch pairs matches the float64 closed form within 3 standard errors", async () => {
    const p = problem();
    const ref = reference(p);
    const probe = compileProbe(linearModel(p.w, p.b));
    expect(probe.hasDropout).toBe(false);
    expect(probe.stateNames).toEqual(["W", "b"]);
    const session = await createSession(probe.graph);
    const H = 5;
    const Q = 400;
    const r = rng(11);
    const g2s: number[] = [];
    const traces: number[] = [];
    for (let round = 0; round < 10; round++) {
      // independent draws with replacement from the full data: what makes the estimates unbiased
      const ids = Array.from({ length: 2 * Q * H }, () => Math.floor(r() * N));
      const g = feedsFor(p, ids, [2 * Q, H]);
      const probeSet = feedsFor(p, [0, 1, 2, 3], [2, 2]);
      const feeds: Record<string, HostTensor> = {
        px: probeSet.x,
        py: probeSet.y,
        gx: g.x,
        gy: g.y,
        gstep: { dims: [2 * Q], data: new BigInt64Array(2 * Q) },
        W: { dims: [C, F], data: Float32Array.from(p.w) },
        b: { dims: [C], data: Float32Array.from(p.b) },
      };
      const out = await session.run(feeds);
      const small = out.grad_sq_small.data as Float32Array;
      const big = out.grad_sq_big.data as Float32Array;
      expect(small.length).toBe(Q);
      for (let q = 0; q < Q; q++) {
        const est = gradientNoise(small[q], big[q], H, 2 * H);
        g2s.push(est.g2);
        traces.push(est.traceSigma);
      }
    }
    await session.release();
    const meanSe = (v: number[]) => {
      const m = v.reduce((s, x) => s + x, 0) / v.length;
      const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
      return { m, se: sd / Math.sqrt(v.length) };
    };
    const g2 = meanSe(g2s);
    const tr = meanSe(traces);
    // the comparison has power: the standard errors are small against the true values
    expect(g2.se).toBeLessThan(0.1 * ref.g2);
    expect(tr.se).toBeLessThan(0.05 * ref.trace);
    expect(Math.abs(g2.m - ref.g2)).toBeLessThan(3 * g2.se);
    expect(Math.abs(tr.m - ref.trace)).toBeLessThan(3 * tr.se);
  });

  it("returns each probe batch's clean loss exactly as the float64 loss of that batch", async () => {
    const p = problem();
    const session = await createSession(compileProbe(linearModel(p.w, p.b)).graph);
    const ids = Array.from({ length: 12 }, (_, i) => i * 7);
    const probeSet = feedsFor(p, ids, [3, 4]);
    const g = feedsFor(p, [0, 1], [2, 1]);
    const out = await session.run({
      px: probeSet.x,
      py: probeSet.y,
      gx: g.x,
      gy: g.y,
      gstep: { dims: [2], data: new BigInt64Array(2) },
      W: { dims: [C, F], data: Float32Array.from(p.w) },
      b: { dims: [C], data: Float32Array.from(p.b) },
    });
    await session.release();
    const clean = Array.from(out.clean_loss.data as Float32Array);
    const expected = [0, 1, 2].map((k) => {
      const batch = ids.slice(k * 4, k * 4 + 4);
      const x = batch.flatMap((id) => p.x.slice(id * F, id * F + F));
      return lossAndGrad(
        "cross_entropy",
        p.w,
        p.b,
        x,
        batch.map((id) => p.y[id]),
      ).loss;
    });
    clean.forEach((v, k) => {
      expect(v).toBeCloseTo(expected[k], 5);
    });
  });

  it("starts the dropout passes from the clean pass's values before the first Dropout: the seed CNN's dropout loop holds no Conv and returns the very losses of recomputing every pass", async () => {
    const bytes = builtinModelBytes("cnn");
    const shared = compileProbe(bytes, { seed: 5 });
    const full = compileProbe(bytes, { seed: 5, sharePrefix: false });
    const dropoutBody = (graph: Uint8Array) => {
      const loop = decodeModel(graph).graph.nodes.find(
        (n) => n.op === "Loop" && n.name.startsWith("dropout"),
      );
      const body = loop?.attrs.body;
      if (body?.type !== "graph") throw new Error("the probe has no dropout loop");
      return body.g.nodes.map((n) => n.op);
    };
    expect(dropoutBody(full.graph)).toContain("Conv");
    expect(dropoutBody(shared.graph)).not.toContain("Conv");
    expect(dropoutBody(shared.graph)).toContain("Gemm");

    const a = analyse(bytes, 5);
    const [P, M, Q, B, H] = [3, 3, 1, 6, 3];
    const f = a.inputShape.reduce((x: number, y) => x * (y as number), 1);
    const r = rng(3);
    const images = (n: number) => Float32Array.from({ length: n * f }, () => r() * 2 - 1);
    const labels = (n: number) =>
      BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * a.classes)));
    const feeds: Record<string, HostTensor> = {
      px: { dims: [P, B, ...(a.inputShape as number[])], data: images(P * B) },
      py: { dims: [P, B], data: labels(P * B) },
      mask_step: {
        dims: [P * M],
        data: BigInt64Array.from({ length: P * M }, (_, k) => 2n ** 32n + BigInt(k)),
      },
      gx: { dims: [2 * Q, H, ...(a.inputShape as number[])], data: images(2 * Q * H) },
      gy: { dims: [2 * Q, H], data: labels(2 * Q * H) },
      gstep: { dims: [2 * Q], data: BigInt64Array.from({ length: 2 * Q }, (_, j) => 2n ** 33n + BigInt(j)) },
    };
    for (const t of a.params) feeds[t.name] = { dims: t.dims, data: t.data as Float32Array };
    const outs = [];
    for (const probe of [shared, full]) {
      const session = await createSession(probe.graph, { intraOpThreads: 1 });
      outs.push(await session.run(feeds));
      await session.release();
    }
    const [mine, reference] = outs.map((o) => Array.from(o.dropout_loss.data as Float32Array));
    expect(mine).toHaveLength(P * M);
    // masks differ between passes of one batch: the losses are not all one value
    expect(new Set(reference).size).toBeGreaterThan(P);
    expect(mine).toEqual(reference);
    expect(Array.from(outs[0].clean_loss.data as Float32Array)).toEqual(
      Array.from(outs[1].clean_loss.data as Float32Array),
    );
  });

  it("hands over the values before a Dropout only while they are small per sample, else recomputes them in every pass", () => {
    // x → Relu → Dropout → Gemm: the Relu's output is what the dropout passes share
    const model = (features: number) => {
      const m: Model = {
        irVersion: 8,
        opsets: [{ domain: "", version: 17 }],
        producer: "test",
        graph: {
          name: "wide",
          inputs: [{ name: "input", dtype: "float32", shape: ["batch", features] }],
          outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 2] }],
          initializers: [
            { name: "W", dtype: "float32", dims: [2, features], data: new Float32Array(2 * features) },
          ],
          nodes: [
            { op: "Relu", name: "act", domain: "", inputs: ["input"], outputs: ["h"], attrs: {} },
            { op: "Dropout", name: "drop", domain: "", inputs: ["h"], outputs: ["hd"], attrs: {} },
            {
              op: "Gemm",
              name: "fc",
              domain: "",
              inputs: ["hd", "W"],
              outputs: ["logits"],
              attrs: { transB: { type: "int", i: 1 } },
            },
          ],
        },
      };
      return analyse(encodeModel(m), 0);
    };
    expect(sharedPrefix(model(100))).toEqual({ skip: new Set(["h"]), handoff: ["h"] });
    expect(sharedPrefix(model(MAX_HANDOFF_PER_SAMPLE))).not.toBeNull();
    expect(sharedPrefix(model(MAX_HANDOFF_PER_SAMPLE + 1))).toBeNull();
  });
});
