import { describe, expect, it } from "vitest";
import { lrAt, lrsFor, validateSchedule } from "../../src/train/schedule.ts";

describe("learning-rate schedules", () => {
  it("keeps a constant rate", () => {
    const s = validateSchedule(undefined);
    expect(s).toEqual({ kind: "constant" });
    expect([0, 5, 99].map((t) => lrAt(s, 0.01, t, 100))).toEqual([0.01, 0.01, 0.01]);
  });

  it("decays by gamma every stepSize steps like StepLR", () => {
    // StepLR(step_size=3, gamma=0.5), lr 0.1: 0.1 ×3, 0.05 ×3, 0.025 …
    const s = validateSchedule({ kind: "step", stepSize: 3, gamma: 0.5 });
    expect(Array.from({ length: 8 }, (_, t) => lrAt(s, 0.1, t, 8))).toEqual([
      0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025,
    ]);
  });

  it("follows CosineAnnealingLR's closed form and stays at etaMin after tMax", () => {
    // T_max = 4, eta_min = 0.001, base 0.1: 0.1, 0.0855018…, 0.0505, 0.015353…, 0.001
    const s = validateSchedule({ kind: "cosine", tMax: 4, etaMin: 0.001 });
    const got = Array.from({ length: 6 }, (_, t) => lrAt(s, 0.1, t, 100));
    const want = [
      0.1,
      0.001 + (0.099 * (1 + Math.SQRT1_2)) / 2,
      0.0505,
      0.001 + (0.099 * (1 - Math.SQRT1_2)) / 2,
      0.001,
      0.001,
    ];
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 12);
    expect(want[1]).toBeCloseTo(0.0855018, 6);
  });

  it("anneals over the whole run by default", () => {
    const s = validateSchedule("cosine");
    expect(lrAt(s, 1, 0, 10)).toBe(1);
    expect(lrAt(s, 1, 5, 10)).toBeCloseTo(0.5, 12);
    expect(lrAt(s, 1, 10, 10)).toBeCloseTo(0, 12);
  });

  it("warms up linearly then runs the main schedule from its own step 0", () => {
    // LinearLR(start_factor=0.25, total_iters=4) then StepLR(2, 0.1) on the remaining steps.
    const s = validateSchedule({
      kind: "step",
      stepSize: 2,
      gamma: 0.1,
      warmup: { steps: 4, startFactor: 0.25 },
    });
    const got = Array.from({ length: 9 }, (_, t) => lrAt(s, 1, t, 9));
    const want = [0.25, 0.4375, 0.625, 0.8125, 1, 1, 0.1, 0.1, 0.01];
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 12);
    // Cosine after warmup spans the steps left: 2 warmup + 4 cosine steps over a 6-step run.
    const c = validateSchedule({ kind: "cosine", warmup: 2 });
    expect([0, 1, 2, 4, 6].map((t) => lrAt(c, 1, t, 6))).toEqual([
      0,
      0.5,
      1,
      expect.closeTo(0.5, 12),
      expect.closeTo(0, 12),
    ]);
  });

  it("gives the Loop's per-step rates for any window of steps", () => {
    const s = validateSchedule({ kind: "step", stepSize: 2, gamma: 0.5 });
    expect(Array.from(lrsFor(s, 0.5, 10, 3, 4))).toEqual([0.25, 0.125, 0.125, 0.0625]);
  });

  it("rejects bad schedules naming the field, the value and the accepted range", () => {
    expect(() => validateSchedule({ kind: "exp" })).toThrow(
      'schedule.kind must be one of constant, step, cosine, got "exp"',
    );
    expect(() => validateSchedule({ kind: "step", stepSize: 0 })).toThrow(
      "schedule.stepSize must be an integer between 1 and 1000000000, got 0",
    );
    expect(() => validateSchedule({ kind: "step", stepSize: 2, gamma: Number.NaN })).toThrow(
      "schedule.gamma must be a finite number between 0 and 1, got NaN",
    );
    expect(() => validateSchedule({ kind: "cosine", warmup: { steps: 3, startFactor: 2 } })).toThrow(
      "schedule.warmup.startFactor must be a finite number between 0 and 1, got 2",
    );
    expect(() => validateSchedule({ kind: "constant", gamma: 0.1 })).toThrow(
      'schedule: unknown field "gamma" for kind constant; accepted: kind, warmup',
    );
  });
});
