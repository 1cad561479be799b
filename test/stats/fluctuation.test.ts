import { describe, expect, it } from "vitest";
import { fluctuation } from "../../src/stats/fluctuation.ts";

const at = (loss: number[], accuracy: number[]) =>
  loss.map((l, step) => ({ step, loss: l, accuracy: accuracy[step] }));

describe("fluctuation (rolling statistics of loss and accuracy)", () => {
  it("computes each window's mean, population std and CV as worked out by hand", () => {
    // windows of 2 over loss [1, 3, 5]: (1,3) mean 2 std 1 cv 0.5; (3,5) mean 4 std 1 cv 0.25
    const f = fluctuation(at([1, 3, 5], [0.5, 0.5, 0.5]), 2);
    expect(f.points.map((p) => p.step)).toEqual([1, 2]);
    expect(f.points[0].loss).toEqual({ mean: 2, std: 1, cv: 0.5 });
    expect(f.points[1].loss).toEqual({ mean: 4, std: 1, cv: 0.25 });
    // constant accuracy: std 0, CV 0, correlation undefined
    expect(f.points[0].accuracy).toEqual({ mean: 0.5, std: 0, cv: 0 });
    expect(f.points[0].correlation).toBeNull();
  });

  it("reports correlation −1 when accuracy falls exactly as loss rises, and +1 when they move together", () => {
    const down = fluctuation(at([1, 2, 3, 4], [0.9, 0.8, 0.7, 0.6]), 4);
    expect(down.points).toHaveLength(1);
    expect(down.points[0].correlation).toBeCloseTo(-1, 12);
    const up = fluctuation(at([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4]), 3);
    expect(up.points.map((p) => p.correlation)).toEqual([expect.closeTo(1, 12), expect.closeTo(1, 12)]);
  });

  it("summarizes the whole range: loss [2,4,4,4,5,5,7,9] has mean 5 and std 2 (the textbook example)", () => {
    const loss = [2, 4, 4, 4, 5, 5, 7, 9];
    const f = fluctuation(
      at(
        loss,
        loss.map(() => 1),
      ),
      3,
    );
    expect(f.overall.batches).toBe(8);
    expect(f.overall.loss.mean).toBe(5);
    expect(f.overall.loss.std).toBeCloseTo(2, 12);
    expect(f.overall.loss.cv).toBeCloseTo(0.4, 12);
  });

  it("matches a direct recomputation of every window on a long noisy series", () => {
    const n = 500;
    const loss = Array.from({ length: n }, (_, i) => 0.7 + 0.3 * Math.sin(i * 1.7) * Math.cos(i * 0.31));
    const acc = Array.from({ length: n }, (_, i) => 0.5 + 0.1 * Math.sin(i * 0.9));
    const w = 25;
    const f = fluctuation(at(loss, acc), w, 10_000);
    expect(f.points).toHaveLength(n - w + 1);
    for (const p of f.points) {
      const ls = loss.slice(p.step - w + 1, p.step + 1);
      const as = acc.slice(p.step - w + 1, p.step + 1);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const ml = mean(ls);
      const ma = mean(as);
      const sl = Math.sqrt(mean(ls.map((x) => (x - ml) ** 2)));
      const sa = Math.sqrt(mean(as.map((x) => (x - ma) ** 2)));
      const r = mean(ls.map((x, i) => (x - ml) * (as[i] - ma))) / (sl * sa);
      expect(p.loss.mean).toBeCloseTo(ml, 10);
      expect(p.loss.std).toBeCloseTo(sl, 8);
      expect(p.accuracy.std).toBeCloseTo(sa, 8);
      expect(p.correlation ?? Number.NaN).toBeCloseTo(r, 6);
    }
  });

  it("thins the points evenly to maxPoints and always keeps the last window", () => {
    const n = 101;
    const f = fluctuation(
      at(
        Array.from({ length: n }, (_, i) => i),
        Array(n).fill(1),
      ),
      2,
      10,
    );
    expect(f.points.length).toBeLessThanOrEqual(10);
    expect(f.points.at(-1)?.step).toBe(100);
  });

  it("gives no windows but a summary for a run shorter than the window, and rejects a window below 2", () => {
    const f = fluctuation(at([1, 2], [0, 1]), 5);
    expect(f.points).toEqual([]);
    expect(f.overall.batches).toBe(2);
    expect(() => fluctuation([], 1)).toThrow(/window must be an integer ≥ 2, got 1/);
  });
});
