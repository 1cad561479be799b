// Sweep expansion (src/runs/sweep.ts) is pure: grids multiply out in a fixed order, random search is
// reproducible from its seed, and points merge into the base config.
import { describe, expect, it } from "vitest";
import { expandSweep, pointConfig } from "../../src/runs/sweep.ts";

describe("sweep expansion", () => {
  it("multiplies a grid out with the last dimension varying fastest", () => {
    const points = expandSweep({
      strategy: "grid",
      space: { lr: [0.1, 0.01], batchSize: [10, 100], dropout: [true, false] },
    });
    expect(points).toHaveLength(8);
    expect(points.slice(0, 3)).toEqual([
      { lr: 0.1, batchSize: 10, dropout: true },
      { lr: 0.1, batchSize: 10, dropout: false },
      { lr: 0.1, batchSize: 100, dropout: true },
    ]);
  });

  it("draws the same random points for the same sampler seed and different ones for another", () => {
    const space = { lr: [0.1, 0.03, 0.01, 0.003], optimizer: ["sgd", "adam"], seed: [1, 2, 3] };
    const a = expandSweep({ strategy: "random", space, samples: 6, samplerSeed: 7 });
    const b = expandSweep({ strategy: "random", space, samples: 6, samplerSeed: 7 });
    const c = expandSweep({ strategy: "random", space, samples: 6, samplerSeed: 8 });
    expect(a).toHaveLength(6);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(
      a.every((p) => space.lr.includes(p.lr as number) && space.optimizer.includes(p.optimizer as string)),
    ).toBe(true);
  });

  it("rejects an empty dimension, an unknown optimizer and an oversized grid, naming the problem", () => {
    expect(() => expandSweep({ strategy: "grid", space: { lr: [] } })).toThrow(
      /space.lr must be a non-empty list/,
    );
    expect(() => expandSweep({ strategy: "grid", space: { optimizer: ["lbfgs"] } })).toThrow(
      /unknown optimizer "lbfgs"; known: sgd/,
    );
    const many = Array.from({ length: 20 }, (_, i) => i);
    expect(() => expandSweep({ strategy: "grid", space: { seed: many, batchSize: many } })).toThrow(
      /more than 256 points/,
    );
  });

  it("merges a point into the base config: lr into the optimizer, another optimizer drops foreign settings", () => {
    const base = { epochs: 2, batchSize: 10, optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9 } };
    expect(pointConfig(base, { lr: 0.01 })).toEqual({
      ...base,
      optimizer: { kind: "sgd", lr: 0.01, momentum: 0.9 },
    });
    expect(pointConfig(base, { optimizer: "adam", batchSize: 100, dropout: false, seed: 3 })).toEqual({
      epochs: 2,
      batchSize: 100,
      optimizer: { kind: "adam", lr: 0.1 },
      dropout: false,
      seed: 3,
    });
  });
});
