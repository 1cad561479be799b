import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LEVELS, planHistory, rollupDeltas } from "../../src/db/rollup.ts";
import { makeRows } from "../helpers/fixtures.ts";

describe("history plan", () => {
  it("covers exactly the range with contiguous segments, aligned rollups and at most maxPoints buckets", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3_000_000 }),
        fc.integer({ min: 0, max: 3_000_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        (first, span, maxPoints) => {
          const last = first + span;
          const plan = planHistory(first, last, maxPoints);
          expect(Math.floor(last / plan.width) - Math.floor(first / plan.width) + 1).toBeLessThanOrEqual(
            maxPoints,
          );
          expect(plan.segments[0].from).toBe(first);
          expect(plan.segments[plan.segments.length - 1].to).toBe(last);
          let raw = 0;
          plan.segments.forEach((s, i) => {
            if (i > 0) expect(s.from).toBe(plan.segments[i - 1].to + 1);
            expect(plan.width % s.level).toBe(0);
            expect(s.from % s.level).toBe(0);
            expect((s.to + 1) % s.level).toBe(0);
            if (s.level === 1) raw += s.to - s.from + 1;
          });
          // Raw rows are read only for the < 10-step remainders at each end (or a tiny range).
          if (plan.width >= 10) expect(raw).toBeLessThanOrEqual(18);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("reads 1,000 rollup rows for a 1,000,000-step run at 1,000 points", () => {
    const plan = planHistory(0, 999_999, 1000);
    expect(plan).toEqual({ width: 1000, level: 1000, segments: [{ level: 1000, from: 0, to: 999_999 }] });
  });

  it("uses the coarsest level that divides the bucket width, finer ones toward off-grid edges", () => {
    const plan = planHistory(12_345, 993_210, 1000);
    expect(plan.width).toBe(1000);
    expect(plan.segments.map((s) => s.level)).toEqual([1, 10, 100, 1000, 100, 10, 1]);
  });
});

describe("rollup deltas", () => {
  it("aggregate count, step span, min, max and sum per bucket at every level", () => {
    const rows = makeRows(95, 10);
    const deltas = rollupDeltas(rows);
    expect(deltas.map((d) => `${d.level}:${d.bucket}:${d.count}`)).toEqual([
      "10:9:5",
      "100:0:5",
      "1000:0:10",
      "10000:0:10",
      "10:10:5",
      "100:1:5",
    ]);
    const top = deltas.find((d) => d.level === 10_000)!;
    expect([top.firstStep, top.lastStep]).toEqual([95, 104]);
    expect(top.min[0]).toBe(Math.min(...rows.map((r) => r.loss)));
    expect(top.max[0]).toBe(Math.max(...rows.map((r) => r.loss)));
    expect(top.sum[0]).toBeCloseTo(
      rows.reduce((a, r) => a + r.loss, 0),
      12,
    );
    expect(LEVELS).toEqual([10, 100, 1000, 10_000]);
  });
});
