// RunSeries: compareRuns(ids, metric, maxPoints): each run's metric on a shared x axis, the fraction
// of its training done, so a 100-step and a 10-step run (batch 10 vs 100) line up end to end. With
// groupBy, each series also carries its group's band (seed groups: src/schema/SeriesGroup.ts).
import type { Metric, Run } from "../db/index.ts";
import { ValidationError } from "../errors.ts";
import { builder } from "./builder.ts";
import { MetricEnum } from "./Metric.ts";
import { RunType } from "./Run.ts";
import { checkCustomNames, checkMaxPoints, loadRun, runSeries, smoothingOf } from "./resolve-helpers.ts";
import {
  checkGroupKeys,
  GroupByEnum,
  type SeriesGroup,
  SeriesGroupType,
  seriesWithGroups,
} from "./SeriesGroup.ts";

interface SeriesPoint {
  step: number;
  progress: number;
  mean: number;
  min: number;
  max: number;
  smoothed: number;
}

const SeriesPointType = builder.objectRef<SeriesPoint>("SeriesPoint").implement({
  description: "A metric over a bucket of steps, placed on the shared progress axis",
  fields: (t) => ({
    step: t.exposeInt("step", { description: "Last step of the bucket" }),
    progress: t.exposeFloat("progress", { description: "(step + 1) / totalSteps: the shared x axis" }),
    mean: t.exposeFloat("mean", { description: "Mean over the bucket" }),
    min: t.exposeFloat("min", { description: "Smallest value in the bucket" }),
    max: t.exposeFloat("max", { description: "Largest value in the bucket" }),
    smoothed: t.exposeFloat("smoothed", {
      description:
        "`mean` after TensorBoard's debiased exponential moving average over the points, with the request's `smoothing` weight (equal to mean at 0)",
    }),
  }),
});

export const RunSeriesType = builder.objectRef<{
  run: Run;
  metric: Metric | null;
  customMetric: string | null;
  points: SeriesPoint[];
  group: SeriesGroup | null;
}>("RunSeries");
RunSeriesType.implement({
  description: "One run's metric over its progress, for comparing runs of different lengths",
  fields: (t) => ({
    run: t.field({ type: RunType, description: "The run", resolve: (s) => s.run }),
    metric: t.field({
      type: MetricEnum,
      nullable: true,
      description: "The metric compared; null when customMetric is",
      resolve: (s) => s.metric,
    }),
    customMetric: t.string({
      nullable: true,
      description: "The custom metric compared; null when metric is",
      resolve: (s) => s.customMetric,
    }),
    points: t.field({
      type: [SeriesPointType],
      description: "At most maxPoints points",
      resolve: (s) => s.points,
    }),
    group: t.field({
      type: SeriesGroupType,
      nullable: true,
      description:
        "With groupBy: the group this run belongs to and its band (the same object on every series of the group, same key); null without groupBy",
      resolve: (s) => s.group,
    }),
  }),
});

/** The arguments compareRuns and Sweep.compare share. */
export const compareArgs = builder.args((t) => ({
  metric: t.field({
    type: MetricEnum,
    defaultValue: "loss",
    required: true,
    description: "The per-batch metric to compare (ignored when customMetric is given)",
  }),
  customMetric: t.string({ description: "Compare this custom metric (by name) instead of `metric`" }),
  maxPoints: t.int({
    defaultValue: 200,
    required: true,
    description: "At most this many points per run and per group band (1 to MAX_POINTS)",
  }),
  smoothing: t.float({
    defaultValue: 0,
    description:
      "Weight w of TensorBoard's debiased EMA for each point's `smoothed` (the dashboard's slider): 0 (off) ≤ w < 1",
  }),
  groupBy: t.field({
    type: GroupByEnum,
    description: "Put the runs into groups and give each series its group's band (`group`); none by default",
  }),
  groupKeys: t.stringList({
    description:
      'With groupBy: HYPERPARAMETERS, the hyperparameter paths that define a group, e.g. ["batchSize"] or ["optimizer.lr"]',
  }),
}));

export interface CompareArgs {
  metric: string;
  customMetric?: string | null;
  maxPoints: number;
  smoothing?: number | null;
  groupBy?: "seed" | "hyperparameters" | null;
  groupKeys?: string[] | null;
}

/** compareRuns over `runs`: validated arguments, one series per run, groups when asked. */
export async function compareSeries(ctx: Parameters<typeof runSeries>[0], runs: Run[], a: CompareArgs) {
  checkMaxPoints(ctx, a.maxPoints);
  const customMetric = a.customMetric ?? null;
  if (customMetric !== null) checkCustomNames(ctx, [customMetric], "customMetric");
  const smoothing = smoothingOf(a.smoothing);
  checkGroupKeys(a.groupBy ?? null, a.groupKeys ?? null);
  const metric = a.metric as Metric;
  const series = await Promise.all(
    runs.map((run) => runSeries(ctx, run, metric, a.maxPoints, customMetric, smoothing)),
  );
  if (a.groupBy == null) return series;
  const req = {
    groupBy: a.groupBy,
    groupKeys: a.groupKeys ?? null,
    metric,
    customMetric,
    maxPoints: a.maxPoints,
    smoothing,
  };
  return seriesWithGroups(ctx, series, req);
}

builder.queryField("compareRuns", (t) =>
  t.field({
    type: [RunSeriesType],
    description:
      "Runs' metric side by side on a shared x axis (the fraction of each run done), so a 100-step and a 10-step run line up end to end",
    args: {
      ids: t.arg.idList({ required: true, description: "1 to 20 run ids (legacy numbers are accepted)" }),
      ...compareArgs,
    },
    resolve: async (_root, { ids, ...args }, ctx) => {
      if (ids.length < 1 || ids.length > 20)
        throw new ValidationError("ids", `give 1 to 20 run ids, got ${ids.length}`);
      const runs = await Promise.all(ids.map((id) => loadRun(ctx, id)));
      return compareSeries(ctx, runs, args);
    },
  }),
);
