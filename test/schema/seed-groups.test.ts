// Seed groups and API smoothing, through the real schema with real training (SQLite, onnxruntime):
// example 2 (the same linear model on 1,000 random samples at batch sizes 10 and 100) swept over 5
// seeds per batch size. The batch-10 band is wider than the batch-100 band: a mean over 10 samples
// has about √10 times the spread of a mean over 100, and each seed draws different batches.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbId } from "../helpers/ids.ts";
import { type Harness, openHarness } from "./harness.ts";

type Ema = (values: (number | null)[], weight: number) => (number | null)[];
let h: Harness;
let dashboardEma: Ema;

beforeAll(async () => {
  h = await openHarness({ MAX_CONCURRENT_RUNS: "2" });
  // The dashboard's own function (a browser ES module), imported as it is served.
  const url = pathToFileURL(join(import.meta.dirname, "../../public/js/smooth.js")).href;
  dashboardEma = ((await import(url)) as { debiasedEma: Ema }).debiasedEma;
});
afterAll(() => h.close());

interface Band {
  step: number;
  progress: number;
  runs: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  smoothed: number;
}
interface Series {
  run: { id: string; hyperparameters: { batchSize: number; seed: number } };
  points: { step: number; mean: number; smoothed: number }[];
  group: { key: string; setting: Record<string, unknown>; runs: { id: string }[]; points: Band[] } | null;
}

async function waitCompleted(ids: string[]): Promise<void> {
  for (;;) {
    const runs = await Promise.all(ids.map((id) => h.db.getRun(dbId(id))));
    const statuses = runs.map((r) => r?.status);
    if (statuses.every((s) => s === "COMPLETED")) return;
    if (statuses.some((s) => s === "FAILED" || s === "CANCELLED")) throw new Error(`a run ended ${statuses}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const COMPARE = `query($id: ID!, $groupBy: SeriesGroupBy, $keys: [String!], $w: Float) {
  sweep(id: $id) { ... on Sweep {
    compare(metric: LOSS, maxPoints: 200, smoothing: $w, groupBy: $groupBy, groupKeys: $keys) {
      run { id hyperparameters } points { step mean smoothed }
      group { key setting runs { id } points { step progress runs mean std min max smoothed } }
    } } } }`;

describe("seed groups: example 2 over 5 seeds per batch size", () => {
  let sweepId: string;
  let runIds: string[];

  beforeAll(async () => {
    const model = await h.db.findModelByName("linear");
    const started = await h.gql<{
      startSweep: { id: string; runs: { nodes: { id: string; hyperparameters: { seed: number } }[] } };
    }>(
      `mutation($model: ID!) { startSweep(input: {
        name: "example 2 seeds", model: $model, datasetSpec: "batch-size",
        base: { epochs: 1, k: 10, optimizer: { kind: "sgd", lr: 0.01 } },
        strategy: GRID, space: { batchSize: [10, 100] }, seeds: 5
      }) { ... on Sweep { id runs { nodes { id hyperparameters } } } ... on Error { message } } }`,
      { model: String(model?.id) },
    );
    expect(started.errors).toBeUndefined();
    sweepId = started.data!.startSweep.id;
    runIds = started.data!.startSweep.runs.nodes.map((r) => r.id);
    expect(started.data!.startSweep.runs.nodes.map((r) => r.hyperparameters.seed)).toEqual([
      0, 1, 2, 3, 4, 0, 1, 2, 3, 4,
    ]);
    await waitCompleted(runIds);
  }, 120_000);

  it("gives every run of a batch size the same group, whose band is the mean, std and min/max across its 5 seeds", async () => {
    const r = await h.gql<{ sweep: { compare: Series[] } }>(COMPARE, { id: sweepId, groupBy: "SEED" });
    expect(r.errors).toBeUndefined();
    const series = r.data!.sweep.compare;
    expect(series).toHaveLength(10);
    const keys = new Set(series.map((s) => s.group?.key));
    expect(keys.size).toBe(2);
    const small = series.find((s) => s.run.hyperparameters.batchSize === 10)!.group!;
    const large = series.find((s) => s.run.hyperparameters.batchSize === 100)!.group!;
    expect(small.runs.map((x) => x.id)).toEqual(runIds.slice(0, 5));
    expect(large.runs.map((x) => x.id)).toEqual(runIds.slice(5));
    expect(small.setting).toMatchObject({ batchSize: 10 });
    expect(small.setting).not.toHaveProperty("seed");
    // Aligned by step: batch 10 has 100 steps, batch 100 has 10, each with all 5 seeds at every step.
    expect(small.points.map((p) => p.step)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(large.points.map((p) => p.step)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(small.points.every((p) => p.runs === 5)).toBe(true);
    // The band's numbers are the statistics of the members' own series at that step.
    const members = series.filter((s) => s.group?.key === small.key);
    for (const at of [0, 37, 99]) {
      const ys = members.map((s) => s.points.find((p) => p.step === at)!.mean);
      const mean = ys.reduce((a, y) => a + y, 0) / 5;
      const std = Math.sqrt(ys.reduce((a, y) => a + (y - mean) ** 2, 0) / 4);
      const p = small.points[at];
      expect(p.mean).toBeCloseTo(mean, 12);
      expect(p.std).toBeCloseTo(std, 12);
      expect(p.min).toBe(Math.min(...ys));
      expect(p.max).toBe(Math.max(...ys));
    }
    // The claim of example 2, from the API's numbers: the batch-10 band is wider than the batch-100 band.
    const meanStd = (g: { points: Band[] }) => g.points.reduce((a, p) => a + p.std, 0) / g.points.length;
    const spread = (g: { points: Band[] }) =>
      g.points.reduce((a, p) => a + p.max - p.min, 0) / g.points.length;
    expect(meanStd(small)).toBeGreaterThan(1.5 * meanStd(large));
    expect(spread(small)).toBeGreaterThan(1.5 * spread(large));
  });

  it("groups by the named hyperparameters with HYPERPARAMETERS, and compareRuns gives the same bands", async () => {
    const bySweep = await h.gql<{ sweep: { compare: Series[] } }>(COMPARE, {
      id: sweepId,
      groupBy: "HYPERPARAMETERS",
      keys: ["batchSize"],
    });
    const viaCompare = await h.gql<{ compareRuns: Series[] }>(
      `query($ids: [ID!]!) { compareRuns(ids: $ids, metric: LOSS, maxPoints: 200, groupBy: SEED) {
        run { id hyperparameters } points { step mean smoothed }
        group { key setting runs { id } points { step progress runs mean std min max smoothed } } } }`,
      { ids: runIds },
    );
    expect(viaCompare.errors).toBeUndefined();
    const groups = bySweep.data!.sweep.compare.map((s) => s.group!);
    expect(groups[0].setting).toEqual({ batchSize: 10 });
    expect(groups[9].setting).toEqual({ batchSize: 100 });
    expect(viaCompare.data!.compareRuns[0].group!.points).toEqual(groups[0].points);
    expect(viaCompare.data!.compareRuns[9].group!.points).toEqual(groups[9].points);
  });

  it("leaves group null without groupBy and refuses HYPERPARAMETERS without groupKeys, naming what is accepted", async () => {
    const plain = await h.gql<{ sweep: { compare: Series[] } }>(COMPARE, { id: sweepId });
    expect(plain.data!.sweep.compare.every((s) => s.group === null)).toBe(true);
    const bad = await h.gql(COMPARE, { id: sweepId, groupBy: "HYPERPARAMETERS" });
    expect(bad.errors?.[0].message).toContain("groupBy: HYPERPARAMETERS needs groupKeys");
    const badKey = await h.gql(COMPARE, { id: sweepId, groupBy: "HYPERPARAMETERS", keys: ["batch size;"] });
    expect(badKey.errors?.[0].message).toContain("is not a hyperparameter path");
  });

  it("smooths history and compareRuns exactly as the dashboard's debiasedEma does", async () => {
    for (const w of [0, 0.6, 0.9, 0.99]) {
      const r = await h.gql<{
        run: {
          history: {
            buckets: {
              loss: { mean: number; smoothed: number };
              accuracy: { mean: number; smoothed: number };
            }[];
          };
        };
        compareRuns: Series[];
      }>(
        `query($id: ID!, $w: Float) {
          run(id: $id) { ... on Run { history(metrics: [LOSS, ACCURACY], maxPoints: 30, smoothing: $w) {
            buckets { loss { mean smoothed } accuracy { mean smoothed } } } } }
          compareRuns(ids: [$id], maxPoints: 50, smoothing: $w) { points { step mean smoothed } } }`,
        { id: runIds[0], w },
      );
      expect(r.errors).toBeUndefined();
      const b = r.data!.run.history.buckets;
      expect(b.length).toBeGreaterThan(10);
      const loss = b.map((x) => x.loss.mean);
      expect(b.map((x) => x.loss.smoothed)).toEqual(dashboardEma(loss, w));
      expect(b.map((x) => x.accuracy.smoothed)).toEqual(
        dashboardEma(
          b.map((x) => x.accuracy.mean),
          w,
        ),
      );
      const pts = r.data!.compareRuns[0].points;
      expect(pts.map((p) => p.smoothed)).toEqual(
        dashboardEma(
          pts.map((p) => p.mean),
          w,
        ),
      );
      if (w === 0) expect(b.map((x) => x.loss.smoothed)).toEqual(loss);
      else expect(b.map((x) => x.loss.smoothed)).not.toEqual(loss);
    }
  });

  it("refuses a smoothing weight outside [0, 1) and a seeds count outside 1 to 100, saying what is accepted", async () => {
    const r = await h.gql(
      `query($id: ID!) { run(id: $id) { ... on Run { history(smoothing: 1) { bucketWidth } } } }`,
      { id: runIds[0] },
    );
    expect(r.errors?.[0].message).toContain(
      "smoothing must be a number from 0 (off) up to but not including 1",
    );
    const neg = await h.gql(
      `query($ids: [ID!]!) { compareRuns(ids: $ids, smoothing: -0.1) { run { id } } }`,
      {
        ids: [runIds[0]],
      },
    );
    expect(neg.errors?.[0].message).toContain("got -0.1");
    const model = await h.db.findModelByName("linear");
    const before = (await h.db.listRuns({ first: 100 })).length;
    const seeds = await h.gql<{ startSweep: { message?: string } }>(
      `mutation($model: ID!) { startSweep(input: { model: $model, datasetSpec: "batch-size",
        strategy: GRID, space: { batchSize: [10] }, seeds: 0 }) { ... on Error { message } } }`,
      { model: String(model?.id) },
    );
    expect(seeds.data?.startSweep.message).toBe("seeds must be an integer from 1 to 100, got 0");
    expect((await h.db.listRuns({ first: 100 })).length).toBe(before);
  });
});
