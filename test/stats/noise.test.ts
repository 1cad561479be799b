// The noise statistics as pure functions: the decomposition's variances, the drift of a linear trend,
// the two-batch-size estimator, the EMA ratio and the verdict's words.
import { describe, expect, it } from "vitest";
import {
  driftVariance,
  gradientNoise,
  NoiseScale,
  noisePoints,
  noiseShares,
  noiseVerdict,
  probeVariances,
} from "../../src/stats/noise.ts";

describe("noise statistics", () => {
  it("splits a probe into clean trend, sampling variance across batches and dropout variance across masks", () => {
    // P = 2 batches, M = 3 masks: dropout[m·P + p]
    const v = probeVariances([1, 3], [0.9, 3.1, 1.1, 2.9, 1.0, 3.0]);
    expect(v.cleanLoss).toBe(2);
    expect(v.samplingVar).toBe(2); // ((1−2)² + (3−2)²) / (2 − 1)
    expect(v.dropoutVar).toBeCloseTo(0.01, 12); // each batch: values ±0.1 around its mean, /(3 − 1)
    expect(probeVariances([1, 3], []).dropoutVar).toBe(0);
    expect(() => probeVariances([1], [])).toThrow("at least 2 batches");
  });

  it("gives a linear trend's variance over n steps as Δ²(n² − 1)/(12 n²)", () => {
    const n = 10;
    const values = Array.from({ length: n }, (_, i) => (0.5 * (i + 1)) / n);
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const population = values.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(driftVariance(0.5, n)).toBeCloseTo(population, 12);
    expect(driftVariance(0.5, 1)).toBe(0);
  });

  it("inverts E|G_b|² = |G|² + tr(Σ)/b exactly at two batch sizes", () => {
    const g2 = 0.04;
    const trace = 6;
    const at = (b: number) => g2 + trace / b;
    const est = gradientNoise(at(5), at(40), 5, 40);
    expect(est.g2).toBeCloseTo(g2, 12);
    expect(est.traceSigma).toBeCloseTo(trace, 10);
    expect(() => gradientNoise(1, 1, 10, 10)).toThrow("0 < small < big");
  });

  it("takes B_simple as the ratio of two EMAs, whose bias corrections cancel, and stays null while |G|²'s EMA is not positive", () => {
    const s = new NoiseScale(0.9);
    expect(s.value).toBeNull();
    expect(s.update({ g2: -0.01, traceSigma: 5 })).toBeNull();
    s.update({ g2: 0.05, traceSigma: 5 });
    // EMAs after two updates: g2 = 0.9·0.1·(−0.01) + 0.1·0.05, tr = 0.9·0.1·5 + 0.1·5
    expect(s.value).toBeCloseTo((0.09 * 5 + 0.1 * 5) / (0.09 * -0.01 + 0.1 * 0.05), 9);
    expect(() => new NoiseScale(1)).toThrow("decay");
  });

  it("names the dominant cause and the trend in the sentence, with B_noise against the batch size", () => {
    const points = noisePoints([
      {
        firstStep: 9,
        lastStep: 9,
        values: {
          cleanLoss: 1,
          samplingVar: 0.02,
          dropoutVar: 0.06,
          driftVar: 0.02,
          observedVar: 0.1,
          g2: 0.01,
          traceSigma: 2,
        },
      },
      {
        firstStep: 19,
        lastStep: 19,
        values: {
          cleanLoss: 0.8,
          samplingVar: 0.02,
          dropoutVar: 0.06,
          driftVar: 0.02,
          observedVar: 0.1,
          g2: 0.01,
          traceSigma: 2,
        },
      },
    ]);
    expect(points[1].explained).toBeCloseTo(1, 12);
    expect(points[1].bNoise).toBeCloseTo(200, 9);
    expect(noiseShares(points)).toEqual({
      samplingShare: expect.closeTo(0.2, 12),
      dropoutShare: expect.closeTo(0.6, 12),
      driftShare: expect.closeTo(0.2, 12),
      probes: 2,
    });
    const v = noiseVerdict(points, 32);
    expect(v.dominant).toBe("DROPOUT");
    expect(v.trend).toBe("FALLING");
    expect(v.trendChange).toBeCloseTo(-0.2, 12);
    expect(v.sentence).toBe(
      "60% of the batch-loss variance comes from dropout noise (which units each mask drops); sampling 20%, drift 20%. " +
        "The clean loss fell 20% (1.0 → 0.80): learning continues. " +
        "B_noise ≈ 200; at batch 32 the gradient is dominated by noise, which is why the loss jumps.",
    );
    const flat = noiseVerdict(
      noisePoints(
        [points[0], points[0]].map((p) => ({
          ...p,
          values: { cleanLoss: 1, samplingVar: 1, dropoutVar: 0, driftVar: 0 },
        })),
      ),
      500,
    );
    expect(flat.trend).toBe("FLAT");
    expect(flat.sentence).toContain("learning has stalled");
    expect(noiseVerdict([], 10).sentence).toContain("No noise probe has run yet");
  });
});
