// History: a run's metrics downsampled to at most maxPoints buckets (src/db rollups).
import type { History, HistoryBucket, Metric, MetricStats } from "../db/index.ts";
import { BatchMetricType } from "./BatchMetric.ts";
import { builder } from "./builder.ts";

const smoothedField = {
  description:
    "`mean` after TensorBoard's debiased exponential moving average over the buckets, with history's `smoothing` weight (equal to mean at 0, the default)",
  resolve: (s: MetricStats) => s.smoothed ?? s.mean,
};

export const MetricStatsType = builder.objectRef<MetricStats>("MetricStats").implement({
  fields: (t) => ({
    min: t.exposeFloat("min"),
    max: t.exposeFloat("max"),
    mean: t.exposeFloat("mean"),
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
  fields: (t) => ({
    name: t.exposeString("name"),
    min: t.exposeFloat("min"),
    max: t.exposeFloat("max"),
    mean: t.exposeFloat("mean"),
    smoothed: t.float(smoothedField),
  }),
});

export const HistoryBucketType = builder.objectRef<HistoryBucket>("HistoryBucket").implement({
  fields: (t) => ({
    firstStep: t.exposeInt("firstStep"),
    lastStep: t.exposeInt("lastStep"),
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
  fields: (t) => ({
    bucketWidth: t.exposeInt("bucketWidth", { description: "Steps per bucket on an absolute grid" }),
    sourceLevel: t.exposeInt("sourceLevel", { description: "1 = raw rows, else the rollup width read" }),
    buckets: t.field({ type: [HistoryBucketType], resolve: (h) => h.buckets }),
    first: t.field({ type: BatchMetricType, nullable: true, resolve: (h) => h.first }),
    last: t.field({ type: BatchMetricType, nullable: true, resolve: (h) => h.last }),
  }),
});
