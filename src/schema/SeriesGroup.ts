// SeriesGroup: the runs of one group (compareRuns/Sweep.compare with groupBy) merged into a band:
// per aligned step, the mean, sample std, min and max across the group's runs (src/stats/groups.ts),
// from the same downsampled history as the per-run series.
import type { Metric, Run } from "../db/index.ts";
import { ValidationError } from "../errors.ts";
import { type BandPoint, band, settingKey } from "../stats/groups.ts";
import { debiasedEma } from "../stats/smooth.ts";
import { builder } from "./builder.ts";
import type { Context } from "./context.ts";
import { RunType } from "./Run.ts";
import { JSONScalar } from "./scalars.ts";

export type GroupBy = "seed" | "hyperparameters";

export const GroupByEnum = builder.enumType("SeriesGroupBy", {
  description: "How compareRuns and Sweep.compare put runs into groups (bands)",
  values: {
    SEED: {
      value: "seed",
      description:
        "Seed groups: runs whose model, dataset and hyperparameters are equal except the seed form one group, so the band is the seed-to-seed spread of one setting",
    },
    HYPERPARAMETERS: {
      value: "hyperparameters",
      description:
        'Runs with equal values at the hyperparameter paths in `groupKeys` (e.g. ["batchSize"] or ["optimizer.lr"]) form one group, whatever else (seed included) differs',
    },
  } as const,
});

export interface SeriesGroup {
  key: string;
  setting: Record<string, unknown>;
  runs: Run[];
  points: (BandPoint & { smoothed: number })[];
}

const BandPointType = builder.objectRef<SeriesGroup["points"][number]>("BandPoint").implement({
  description: "One aligned step of a group's band: statistics across the group's runs",
  fields: (t) => ({
    step: t.exposeInt("step", { description: "The highest step of the runs' buckets in this point" }),
    progress: t.exposeFloat("progress", {
      description: "(step + 1) / the longest run's totalSteps, from 0 to 1: the shared x axis",
    }),
    runs: t.exposeInt("runs", { description: "How many of the group's runs have a value at this point" }),
    mean: t.exposeFloat("mean", { description: "Mean across the runs of each run's bucket mean" }),
    std: t.exposeFloat("std", {
      description: "Sample standard deviation (n − 1) across the runs; 0 when only one run has a value",
    }),
    min: t.exposeFloat("min", { description: "Lowest run value at this point" }),
    max: t.exposeFloat("max", { description: "Highest run value at this point" }),
    smoothed: t.exposeFloat("smoothed", {
      description:
        "`mean` after TensorBoard's debiased EMA with the request's `smoothing` (equal to mean at 0)",
    }),
  }),
});

export const SeriesGroupType = builder.objectRef<SeriesGroup>("SeriesGroup").implement({
  description: "The runs of one group and their band: mean, std and min/max per aligned step",
  fields: (t) => ({
    key: t.exposeString("key", {
      description: "The group's identity: the canonical JSON of `setting`, equal for every run of the group",
    }),
    setting: t.field({
      type: JSONScalar,
      description:
        "What the runs share: SEED, the hyperparameters without the seed plus modelId and datasetId; HYPERPARAMETERS, the groupKeys' values",
      resolve: (g) => g.setting,
    }),
    runs: t.field({ type: [RunType], description: "The group's runs, by id", resolve: (g) => g.runs }),
    points: t.field({
      type: [BandPointType],
      description: "The band, in step order, at most maxPoints points",
      resolve: (g) => g.points,
    }),
  }),
});

export interface GroupRequest {
  groupBy: GroupBy;
  groupKeys: readonly string[] | null;
  metric: Metric;
  customMetric: string | null;
  maxPoints: number;
  smoothing: number;
}

/** The groupKeys a request may name: dotted hyperparameter paths, required with HYPERPARAMETERS. */
export function checkGroupKeys(groupBy: GroupBy | null, keys: readonly string[] | null): void {
  if (groupBy === "hyperparameters" && (keys === null || keys.length === 0))
    throw new ValidationError(
      "groupKeys",
      'groupBy: HYPERPARAMETERS needs groupKeys, the hyperparameter paths to group by, e.g. ["batchSize"] or ["optimizer.lr"]',
    );
  for (const k of keys ?? [])
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(k) || k.length > 100)
      throw new ValidationError(
        "groupKeys",
        `groupKeys entry ${JSON.stringify(k.slice(0, 100))} is not a hyperparameter path; use names joined by dots, e.g. "optimizer.lr"`,
      );
}

/** Puts the runs into groups (first-seen order) and computes each group's band. */
export async function groupSeries(
  ctx: Context,
  runs: readonly Run[],
  req: GroupRequest,
): Promise<SeriesGroup[]> {
  const groups = new Map<string, Run[]>();
  for (const run of runs) {
    const key = groupKeyOf(run, req);
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return Promise.all(
    [...groups.entries()].map(async ([key, members]) => {
      const histories = await Promise.all(members.map((run) => memberBuckets(ctx, run, req)));
      const width = Math.max(1, ...histories.map((h) => h.width));
      const points = band(histories, width);
      const smoothed = debiasedEma(
        points.map((p) => p.mean),
        req.smoothing,
      );
      return {
        key,
        setting: JSON.parse(key) as Record<string, unknown>,
        runs: members,
        points: points.map((p, i) => ({ ...p, smoothed: smoothed[i] ?? p.mean })),
      };
    }),
  );
}

function groupKeyOf(run: Run, req: GroupRequest): string {
  return req.groupBy === "seed"
    ? settingKey(run.hyperparameters, { modelId: run.modelId, datasetId: run.datasetId, kind: run.kind })
    : settingKey(run.hyperparameters, {}, req.groupKeys ?? []);
}

async function memberBuckets(ctx: Context, run: Run, req: GroupRequest) {
  const h = await ctx.db.history(run.id, {
    metrics: req.customMetric === null ? [req.metric] : [],
    custom: req.customMetric === null ? [] : [req.customMetric],
    maxPoints: req.maxPoints,
  });
  const buckets = h.buckets.flatMap((b) => {
    const s = req.customMetric === null ? b.values[req.metric] : b.custom[req.customMetric];
    return s ? [{ lastStep: b.lastStep, count: b.count, mean: s.mean }] : [];
  });
  return { buckets, width: h.bucketWidth, totalSteps: Math.max(1, run.totalSteps, (run.lastStep ?? -1) + 1) };
}

/** The per-run series, each given its group (one band computed per group). */
export async function seriesWithGroups<S extends { run: Run; group: SeriesGroup | null }>(
  ctx: Context,
  series: S[],
  req: GroupRequest,
): Promise<S[]> {
  const groups = await groupSeries(
    ctx,
    series.map((s) => s.run),
    req,
  );
  const byRun = new Map(groups.flatMap((g) => g.runs.map((r) => [r.id, g] as const)));
  return series.map((s) => ({ ...s, group: byRun.get(s.run.id) ?? null }));
}
