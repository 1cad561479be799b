// RunSeries: compareRuns(ids, metric, maxPoints): each run's metric on a shared x axis, the fraction
// of its training done, so a 100-step and a 10-step run (batch 10 vs 100) line up end to end.
import type { Metric, Run } from "../db/index.ts";
import { ValidationError } from "../errors.ts";
import { builder } from "./builder.ts";
import { MetricEnum } from "./Metric.ts";
import { RunType } from "./Run.ts";
import { checkCustomNames, checkMaxPoints, loadRun, runSeries } from "./resolve-helpers.ts";

interface SeriesPoint {
  step: number;
  progress: number;
  mean: number;
  min: number;
  max: number;
}

const SeriesPointType = builder.objectRef<SeriesPoint>("SeriesPoint").implement({
  description: "A metric over a bucket of steps, placed on the shared progress axis",
  fields: (t) => ({
    step: t.exposeInt("step", { description: "Last step of the bucket" }),
    progress: t.exposeFloat("progress", { description: "(step + 1) / totalSteps: the shared x axis" }),
    mean: t.exposeFloat("mean", { description: "Mean over the bucket" }),
    min: t.exposeFloat("min", { description: "Smallest value in the bucket" }),
    max: t.exposeFloat("max", { description: "Largest value in the bucket" }),
  }),
});

export const RunSeriesType = builder.objectRef<{
  run: Run;
  metric: Metric | null;
  customMetric: string | null;
  points: SeriesPoint[];
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
  }),
});

builder.queryField("compareRuns", (t) =>
  t.field({
    type: [RunSeriesType],
    description:
      "Runs' metric side by side on a shared x axis (the fraction of each run done), so a 100-step and a 10-step run line up end to end",
    args: {
      ids: t.arg.idList({ required: true, description: "1 to 20 run ids (legacy numbers are accepted)" }),
      metric: t.arg({
        type: MetricEnum,
        defaultValue: "loss",
        required: true,
        description: "The metric to compare",
      }),
      customMetric: t.arg.string({ description: "Compare this custom metric (by name) instead of `metric`" }),
      maxPoints: t.arg.int({
        defaultValue: 200,
        required: true,
        description: "At most this many points per run, 1 to MAX_POINTS",
      }),
    },
    resolve: async (_root, { ids, metric, customMetric, maxPoints }, ctx) => {
      if (ids.length < 1 || ids.length > 20)
        throw new ValidationError("ids", `give 1 to 20 run ids, got ${ids.length}`);
      checkMaxPoints(ctx, maxPoints);
      if (customMetric != null) checkCustomNames(ctx, [customMetric], "customMetric");
      return Promise.all(
        ids.map(async (id) =>
          runSeries(ctx, await loadRun(ctx, id), metric as Metric, maxPoints, customMetric),
        ),
      );
    },
  }),
);
