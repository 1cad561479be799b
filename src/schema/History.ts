// History: a run's metrics downsampled to at most maxPoints buckets (src/db rollups).
import type { History, HistoryBucket, Metric, MetricStats } from "../db/index.ts";
import { BatchMetricType } from "./BatchMetric.ts";
import { builder } from "./builder.ts";
import { PositiveIntScalar } from "./scalars.ts";

const smoothedField = {
  description:
    "`mean` after TensorBoard's debiased exponential moving average over the buckets, with history's `smoothing` weight (equal to mean at 0, the default)",
  resolve: (s: MetricStats) => s.smoothed ?? s.mean,
};

export const MetricStatsType = builder.objectRef<MetricStats>("MetricStats").implement({
  description: "A metric over a bucket of steps",
  fields: (t) => ({
    min: t.exposeFloat("min", { description: "Smallest value in the bucket" }),
    max: t.exposeFloat("max", { description: "Largest value in the bucket" }),
    mean: t.exposeFloat("mean", { description: "Mean over the bucket's steps" }),
    smoothed: t.float(smoothedField),
  }),
});

const statsField = (metric: Metric) => ({
  type: MetricStatsType,
  nullable: true as const,
  description: `null unless ${metric} was requested (or, for an EXTERNAL run, when no step of the bucket logged it)`,
  resolve: (b: HistoryBucket) => b.values[metric] ?? null,
});

const NamedStatsType = builder.objectRef<{ name: string } & MetricStats>("CustomMetricStats").implement({
  description: "A custom metric over a bucket of steps",
  fields: (t) => ({
    name: t.exposeString("name", { description: "The custom metric's name" }),
    min: t.exposeFloat("min", { description: "Smallest value in the bucket" }),
    max: t.exposeFloat("max", { description: "Largest value in the bucket" }),
    mean: t.exposeFloat("mean", { description: "Mean over the bucket's steps that logged it" }),
    smoothed: t.float(smoothedField),
  }),
});

export const HistoryBucketType = builder.objectRef<HistoryBucket>("HistoryBucket").implement({
  description: "The requested metrics over a run of consecutive steps",
  fields: (t) => ({
    firstStep: t.exposeInt("firstStep", { description: "First step present in the bucket" }),
    lastStep: t.exposeInt("lastStep", { description: "Last step present in the bucket" }),
    count: t.exposeInt("count", { description: "Steps present in the bucket" }),
    loss: t.field(statsField("loss")),
    accuracy: t.field(statsField("accuracy")),
    lr: t.field(statsField("lr")),
    gradNorm: t.field(statsField("gradNorm")),
    confidence: t.field(statsField("confidence")),
    trueClassProb: t.field(statsField("trueClassProb")),
    custom: t.field({
      type: [NamedStatsType],
      description:
        "The requested custom metrics (history's `custom` argument) that have values in the bucket",
      resolve: (b) => Object.entries(b.custom).map(([name, s]) => ({ name, ...s })),
    }),
  }),
});

export const HistoryType = builder.objectRef<History>("History").implement({
  description:
    "A run's metrics downsampled into buckets on an absolute step grid (the same steps fall in the same bucket on every read)",
  fields: (t) => ({
    bucketWidth: t.expose("bucketWidth", {
      type: PositiveIntScalar,
      description: "Steps per bucket on an absolute grid",
    }),
    sourceLevel: t.exposeInt("sourceLevel", { description: "1 = raw rows, else the rollup width read" }),
    buckets: t.field({
      type: [HistoryBucketType],
      description: "At most maxPoints buckets in step order",
      resolve: (h) => h.buckets,
    }),
    first: t.field({
      type: BatchMetricType,
      nullable: true,
      description: "The first raw row of the range; null when it is empty",
      resolve: (h) => h.first,
    }),
    last: t.field({
      type: BatchMetricType,
      nullable: true,
      description: "The last raw row of the range; null when it is empty",
      resolve: (h) => h.last,
    }),
  }),
});
