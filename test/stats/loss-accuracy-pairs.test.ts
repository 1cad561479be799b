import { describe, expect, it } from "vitest";
import { lossAccuracyPairs } from "../../src/stats/fluctuation.ts";

const row = (step: number, loss: number | null, accuracy: number | null) => ({ step, loss, accuracy });

describe("lossAccuracyPairs (what fluctuation is computed over)", () => {
  it("keeps rows that carry both metrics as they are", () => {
    expect(lossAccuracyPairs([row(0, 0.7, 0.5), row(1, 0.6, 0.75)])).toEqual([
      { step: 0, loss: 0.7, accuracy: 0.5 },
      { step: 1, loss: 0.6, accuracy: 0.75 },
    ]);
  });

  it("pairs a loss-only row with the next accuracy-only row (and the reverse), using each value once", () => {
    expect(
      lossAccuracyPairs([
        row(0, 0.7, null),
        row(1, null, 0.5),
        row(2, null, 0.6),
        row(3, 0.4, null),
        row(4, 0.3, null),
      ]),
    ).toEqual([
      { step: 1, loss: 0.7, accuracy: 0.5 },
      { step: 3, loss: 0.4, accuracy: 0.6 },
    ]);
  });

  it("drops a value left without a partner and rows with neither metric", () => {
    expect(
      lossAccuracyPairs([row(0, 0.9, null), row(1, null, null), row(2, 0.8, 0.5), row(3, null, 0.4)]),
    ).toEqual([{ step: 2, loss: 0.8, accuracy: 0.5 }]);
  });
});
