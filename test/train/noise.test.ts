// The noise decomposition and the gradient noise scale on the reference experiments (issue 20's
// proofs): example 2's two batch sizes, example 3 with and without dropout, and learning on real digits.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { TrainedRow } from "../../src/db/types.ts";
import {
  hasProbe,
  NOISE_METRICS,
  noisePoints,
  noiseShares,
  noiseValues,
  noiseVerdict,
} from "../../src/stats/noise.ts";
import { EXPERIMENTS } from "../../src/train/config.ts";
import { trainInline } from "../../src/train/runner.ts";

const model = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../models/${name}.onnx`, import.meta.url)));

function pointsOf(rows: TrainedRow[], decay = 0.9) {
  const probed = rows.filter((r) => hasProbe(r.custom));
  return noisePoints(
    probed.map((r) => ({ firstStep: r.step, lastStep: r.step, values: noiseValues(r.custom ?? {}) })),
    decay,
  );
}

describe("noise diagnostics on the reference experiments", () => {
  it("example 2: batch 10 and batch 100 give consistent gradient noise scales (within 30%), and batch 10's sampling share exceeds batch 100's", async () => {
    const [bs10, bs100] = EXPERIMENTS["batch-size"].runs;
    // halves of 5 samples are mostly noise: many of them per probe make batch 10's estimate precise
    const noise = { every: 2, gradBatches: 256 };
    const r10 = await trainInline({ model: model("linear"), config: { ...bs10, noise } });
    const r100 = await trainInline({ model: model("linear"), config: { ...bs100, noise } });
    const p10 = pointsOf(r10.rows);
    const p100 = pointsOf(r100.rows);
    expect(p10.length).toBe(50);
    expect(p100.length).toBe(5);
    // Compared after the same 10 SGD steps (all of batch 100's run): B_noise is a property of the
    // parameters, and both runs have moved them by 10 steps of lr 0.01 along the same mean gradient.
    // (Batch 10 trains on for 90 more steps, fits its random labels' full gradient, and its |G|² falls.)
    const b10 = p10.find((p) => p.lastStep === 9)?.bNoise as number;
    const b100 = p100.find((p) => p.lastStep === 9)?.bNoise as number;
    expect(b10).toBeGreaterThan(0);
    expect(b100).toBeGreaterThan(0);
    expect(Math.abs(b10 - b100) / Math.max(b10, b100)).toBeLessThan(0.3);
    // the streamed EMA is the one the report recomputes from the stored estimates
    expect(r10.rows[9].custom?.[NOISE_METRICS.bSimple]).toBeCloseTo(b10, 6);
    const s10 = noiseShares(p10);
    const s100 = noiseShares(p100);
    expect(s10?.samplingShare).toBeGreaterThan(s100?.samplingShare as number);
    // a mean over 10 samples has about 10× the variance of a mean over 100
    const v10 = p10.reduce((s, p) => s + (p.samplingVar ?? 0), 0) / p10.length;
    const v100 = p100.reduce((s, p) => s + (p.samplingVar ?? 0), 0) / p100.length;
    expect(v10 / v100).toBeGreaterThan(4);
    // no dropout in the linear model: its share is exactly zero
    expect(s10?.dropoutShare).toBe(0);
  }, 120_000);

  it("example 3: the dropout share is clearly above zero with dropout on and exactly zero with dropout: false", async () => {
    const cfg = { ...EXPERIMENTS["cnn-dropout"].runs[0], epochs: 1, noise: { every: 8 } };
    const on = pointsOf((await trainInline({ model: model("cnn"), config: cfg })).rows);
    const off = pointsOf((await trainInline({ model: model("cnn"), config: cfg, dropout: false })).rows);
    expect(on.length).toBe(4);
    expect(off.length).toBe(4);
    expect(noiseShares(on)?.dropoutShare).toBeGreaterThan(0.1);
    expect(on.every((p) => (p.dropoutVar as number) > 0)).toBe(true);
    expect(off.every((p) => p.dropoutVar === 0)).toBe(true);
    expect(noiseShares(off)?.dropoutShare).toBe(0);
  }, 180_000);

  it("cnn-mnist: the clean trend falls while the batch loss keeps fluctuating, and the sentence says learning continues", async () => {
    const cfg = {
      ...EXPERIMENTS["cnn-mnist"].runs[0],
      dataset: "mnist:limit=3000",
      epochs: 1,
      k: 20,
      noise: { every: 20 },
    };
    const r = await trainInline({ model: model("mnist-cnn"), config: cfg });
    const points = pointsOf(r.rows);
    expect(points.length).toBeGreaterThanOrEqual(4);
    const clean = points.map((p) => p.cleanLoss as number);
    expect(clean.at(-1)).toBeLessThan(0.7 * clean[0]);
    // the batch loss still jumps: its spread in the last segment is a sizable part of its level
    const last = points.at(-1);
    expect(Math.sqrt(last?.observedVar as number)).toBeGreaterThan(0.1 * (last?.cleanLoss as number));
    const verdict = noiseVerdict(points, 32);
    expect(verdict.trend).toBe("FALLING");
    expect(verdict.sentence).toContain("learning continues");
  }, 240_000);
});
