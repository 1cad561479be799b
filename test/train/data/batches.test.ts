import { describe, expect, it } from "vitest";
import {
  batchAt,
  epochOrder,
  evalBatches,
  iterateBatches,
  iterateChunks,
  planBatches,
  stackBatches,
} from "../../../src/train/data/batches.ts";
import { loadDataset, type Split } from "../../../src/train/data/load.ts";
import { DATASETS } from "../../../src/train/data/spec.ts";

/** A split whose sample i has features [i, i + 0.5] and label i % 3, so batches reveal their indices. */
function indexSplit(n: number): Split {
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = i;
    x[2 * i + 1] = i + 0.5;
    y[i] = i % 3;
  }
  return { count: n, shape: [2], features: 2, x, y };
}

describe("batch plans", () => {
  it("counts the reference experiments' batches, keeping the last partial batch", () => {
    expect(planBatches(100, 10, 10)).toMatchObject({
      batchesPerEpoch: 10,
      totalSteps: 100,
      lastBatchSize: 10,
    });
    expect(planBatches(1000, 10, 1).totalSteps).toBe(100);
    expect(planBatches(1000, 100, 1).totalSteps).toBe(10);
    expect(planBatches(1000, 32, 2)).toMatchObject({ batchesPerEpoch: 32, lastBatchSize: 8, totalSteps: 64 });
  });

  it("rejects a batch size larger than the training set", () => {
    expect(() => planBatches(100, 101, 1)).toThrow(
      "batchSize must be an integer between 1 and the training set size 100, got 101",
    );
    expect(() => planBatches(100, 0, 1)).toThrow(/got 0/);
  });
});

describe("batch iteration", () => {
  it("visits every sample once per epoch in a seeded order that changes between epochs", () => {
    const split = indexSplit(25);
    const batches = [...iterateBatches(split, { batchSize: 10, epochs: 2, seed: 5 })];
    expect(batches.map((b) => b.size)).toEqual([10, 10, 5, 10, 10, 5]);
    expect(batches.map((b) => [b.step, b.epoch, b.batchIndex])).toEqual([
      [0, 0, 0],
      [1, 0, 1],
      [2, 0, 2],
      [3, 1, 0],
      [4, 1, 1],
      [5, 1, 2],
    ]);
    const seen = (e: number) =>
      batches
        .filter((b) => b.epoch === e)
        .flatMap((b) => Array.from({ length: b.size }, (_, i) => b.x[2 * i]));
    expect([...seen(0)].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(seen(0)).not.toEqual(seen(1));
    // Labels travel with their samples, as int64.
    const b0 = batches[0];
    for (let i = 0; i < b0.size; i++) expect(b0.y[i]).toBe(BigInt(b0.x[2 * i] % 3));
    expect(b0.x[1] - b0.x[0]).toBe(0.5);
  });

  it("repeats exactly for the same seed and differs for another", () => {
    const split = indexSplit(30);
    const a = [...iterateBatches(split, { batchSize: 7, epochs: 3, seed: 1 })];
    const b = [...iterateBatches(split, { batchSize: 7, epochs: 3, seed: 1 })];
    const c = [...iterateBatches(split, { batchSize: 7, epochs: 3, seed: 2 })];
    expect(a.map((t) => Array.from(t.x))).toEqual(b.map((t) => Array.from(t.x)));
    expect(a[0].x).not.toEqual(c[0].x);
  });

  it("resumes at any global step with exactly the batches of an uninterrupted run", () => {
    const split = indexSplit(23);
    const full = [...iterateBatches(split, { batchSize: 4, epochs: 3, seed: 9 })];
    for (const start of [0, 5, 6, 13, 17]) {
      const resumed = [...iterateBatches(split, { batchSize: 4, epochs: 3, seed: 9, startStep: start })];
      expect(resumed).toEqual(full.slice(start));
    }
    expect(batchAt(split, { batchSize: 4, epochs: 3, seed: 9 }, 11)).toEqual(full[11]);
    expect(() => batchAt(split, { batchSize: 4, epochs: 3, seed: 9 }, 18)).toThrow(/past the last step/);
  });

  it("keeps the split's order when shuffling is off", () => {
    expect(Array.from(epochOrder(5, 1, 3, false))).toEqual([0, 1, 2, 3, 4]);
    const first = iterateBatches(indexSplit(6), { batchSize: 3, epochs: 1, seed: 0, shuffle: false }).next();
    expect(Array.from(first.value?.x ?? [])).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
  });

  it("evaluates a split in stored order, clamping the batch size to the split", () => {
    const sizes = [...evalBatches(indexSplit(7), 3)].map((b) => [b.size, b.x[0]]);
    expect(sizes).toEqual([
      [3, 0],
      [3, 3],
      [1, 6],
    ]);
    expect([...evalBatches(indexSplit(4), 32)].map((b) => b.size)).toEqual([4]);
  });

  it("yields example 3's 32 batches per epoch with a last batch of 8 images", () => {
    const d = loadDataset(DATASETS["cnn-dropout"]);
    const sizes = [...iterateBatches(d.train, { batchSize: 32, epochs: 2, seed: 0 })].map((b) => b.size);
    expect(sizes.length).toBe(64);
    expect(sizes[31]).toBe(8);
    expect(sizes[63]).toBe(8);
    expect(sizes.filter((s) => s === 32).length).toBe(62);
  });
});

describe("chunks of K batches", () => {
  it("stacks K batches into [K,B,...] inputs and [K,B] labels in step order", () => {
    const split = indexSplit(12);
    const batches = [...iterateBatches(split, { batchSize: 3, epochs: 1, seed: 4 })];
    const chunk = stackBatches(batches.slice(1, 3));
    expect(chunk.k).toBe(2);
    expect(chunk.batchSize).toBe(3);
    expect(chunk.firstStep).toBe(1);
    expect(Array.from(chunk.x)).toEqual([...batches[1].x, ...batches[2].x]);
    expect(Array.from(chunk.y)).toEqual([...batches[1].y, ...batches[2].y]);
  });

  it("refuses to stack batches of different sizes", () => {
    const batches = [...iterateBatches(indexSplit(5), { batchSize: 3, epochs: 1, seed: 0 })];
    expect(() => stackBatches(batches)).toThrow(
      "stackBatches: batch at step 1 has 2 samples, the first has 3; a chunk needs equal sizes",
    );
  });

  it("breaks chunks at K, at a partial batch and at epoch ends, covering every step once", () => {
    const split = indexSplit(1000);
    const chunks = [...iterateChunks(split, { batchSize: 32, epochs: 2, seed: 0, k: 10 })];
    // Per epoch: 31 full batches → 10 + 10 + 10 + 1, then the batch of 8 alone.
    expect(chunks.map((c) => c.k)).toEqual([10, 10, 10, 1, 1, 10, 10, 10, 1, 1]);
    expect(chunks.map((c) => c.batchSize)).toEqual([32, 32, 32, 32, 8, 32, 32, 32, 32, 8]);
    expect(chunks.flatMap((c) => c.batches.map((b) => b.step))).toEqual(
      Array.from({ length: 64 }, (_, i) => i),
    );
    const across = [
      ...iterateChunks(indexSplit(40), { batchSize: 10, epochs: 2, seed: 0, k: 3, breakAtEpoch: false }),
    ];
    expect(across.map((c) => c.k)).toEqual([3, 3, 2]);
    const resumed = [...iterateChunks(split, { batchSize: 32, epochs: 2, seed: 0, k: 10, startStep: 35 })];
    expect(resumed[0].firstStep).toBe(35);
    expect(resumed[0].x.subarray(0, 7 * 32 * 2)).toEqual(chunks[5].x.subarray(3 * 32 * 2));
  });
});
