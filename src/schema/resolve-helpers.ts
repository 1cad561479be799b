// Shared resolver plumbing: loading a run or failing with NotFoundError, reading every row of a range.
// Errors need no mapping here: every layer throws the typed errors of src/errors.ts.
import { resolveArrayConnection } from "@pothos/plugin-relay";
import type { BatchRow, History, Metric, MetricStats, Run } from "../db/index.ts";
import { CUSTOM_NAME } from "../db/sql.ts";
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import { lossAccuracyPairs } from "../stats/fluctuation.ts";
import { checkSmoothing, debiasedEma } from "../stats/smooth.ts";
import type { Context } from "./context.ts";
import { keysetPage, type PageArgs, pageRequest } from "./paging.ts";

export async function loadRun(ctx: Context, id: string | number): Promise<Run> {
  const run = await ctx.db.getRun(intId("run", id));
  if (!run) throw new NotFoundError("run", String(id));
  return run;
}

/** Every batch row with step in [from, to], in step order; refuses ranges above `limit` rows. */
export async function readRows(
  ctx: Context,
  runId: number,
  from: number,
  to: number,
  limit: number,
): Promise<BatchRow[]> {
  const rows: BatchRow[] = [];
  let after = from - 1;
  for (;;) {
    const page = await ctx.db.batchMetricsPage(runId, after, 10_000);
    for (const r of page.rows) {
      if (r.step > to) return rows;
      rows.push(r);
    }
    if (rows.length > limit) {
      throw new ValidationError(
        "fromStep",
        `the range holds more than ${limit} batches; narrow it with fromStep/toStep (at most ${limit} batches)`,
      );
    }
    if (!page.hasNextPage || page.endStep === null) return rows;
    after = page.endStep;
  }
}

/** The (loss, accuracy) pairs of the rows, also when an EXTERNAL run logs them on separate rows. */
export function withLossAndAccuracy(
  rows: readonly BatchRow[],
): { step: number; loss: number; accuracy: number }[] {
  return lossAccuracyPairs(rows);
}

/** maxPoints of history, fluctuation and compare series against the MAX_POINTS in force. */
export function checkMaxPoints(ctx: Context, maxPoints: number): void {
  const max = ctx.config.limits.maxPoints;
  if (maxPoints < 1 || maxPoints > max)
    throw new ValidationError("maxPoints", `maxPoints must be from 1 to ${max}, got ${maxPoints}`);
}

/** Custom metric names a query asks for: valid names, at most MAX_CUSTOM_METRICS of them. */
export function checkCustomNames(ctx: Context, names: readonly string[], field = "custom"): string[] {
  const max = ctx.config.limits.maxCustomMetrics;
  if (names.length > max)
    throw new ValidationError(
      field,
      `at most ${max} custom metrics per request (MAX_CUSTOM_METRICS), got ${names.length}`,
    );
  for (const name of names) {
    if (!CUSTOM_NAME.test(name))
      throw new ValidationError(
        field,
        `custom metric name ${JSON.stringify(name.slice(0, 100))} is not valid: letters, digits and _ . / - (first a letter or _)`,
      );
  }
  return [...names];
}

/** A `smoothing` argument: TensorBoard's weight, 0 ≤ w < 1. */
export function smoothingOf(weight: number | null | undefined): number {
  const w = weight ?? 0;
  const wrong = checkSmoothing(w);
  if (wrong !== null) throw new ValidationError("smoothing", wrong);
  return w;
}

/** Adds `smoothed` (the debiased EMA of the bucket means) to every series of a history. */
export function smoothHistory(h: History, metrics: readonly Metric[], custom: readonly string[], w: number) {
  const series: ((b: History["buckets"][number]) => MetricStats | undefined)[] = [
    ...metrics.map((m) => (b: History["buckets"][number]) => b.values[m]),
    ...custom.map((name) => (b: History["buckets"][number]) => b.custom[name]),
  ];
  for (const at of series) {
    const present = h.buckets.flatMap((b) => at(b) ?? []);
    const smoothed = debiasedEma(
      present.map((s) => s.mean),
      w,
    );
    present.forEach((s, i) => {
      s.smoothed = smoothed[i] ?? s.mean;
    });
  }
  return h;
}

/**
 * One run's metric (or custom metric, by name) over its progress, at most maxPoints points, each with
 * its mean smoothed by `smoothing` (compareRuns and Sweep.compare).
 */
export async function runSeries(
  ctx: Context,
  run: Run,
  metric: Metric,
  maxPoints: number,
  customMetric: string | null = null,
  smoothing = 0,
) {
  const h = await ctx.db.history(run.id, {
    metrics: customMetric === null ? [metric] : [],
    custom: customMetric === null ? [] : [customMetric],
    maxPoints,
  });
  // An EXTERNAL run may not know its length: its x axis ends at its highest step so far.
  const total = Math.max(1, run.totalSteps, (run.lastStep ?? -1) + 1);
  const points = h.buckets.flatMap((b) => {
    const s = customMetric === null ? b.values[metric] : b.custom[customMetric];
    return s ? [{ step: b.lastStep, progress: (b.lastStep + 1) / total, ...s, smoothed: s.mean }] : [];
  });
  const smoothed = debiasedEma(
    points.map((p) => p.mean),
    smoothing,
  );
  points.forEach((p, i) => {
    p.smoothed = smoothed[i] ?? p.mean;
  });
  return { run, metric: customMetric === null ? metric : null, customMetric, points, group: null };
}

/**
 * Run.batchMetrics: keyset pages by step, forward from the start or backward from the end, with
 * totalCount (the run's persisted steps).
 */
export async function batchMetricsConnection(ctx: Context, run: Run, args: PageArgs) {
  const req = pageRequest("step", args, 100, ctx.config.limits.maxPageSize);
  if (req.forward) {
    const page = await ctx.db.batchMetricsPage(run.id, req.cursor ?? -1, req.size);
    return {
      ...keysetPage("step", req, page.rows, page.hasNextPage, (row) => row.step),
      totalCount: run.stepsCompleted,
    };
  }
  const page = await ctx.db.batchMetricsPageBefore(run.id, req.cursor ?? 2 ** 53 - 1, req.size);
  // keysetPage reverses backward items (fetched nearest first): these arrive in step order.
  const rows = page.rows.reverse();
  return {
    ...keysetPage("step", req, rows, page.hasPreviousPage, (row) => row.step),
    totalCount: run.stepsCompleted,
  };
}

/**
 * A connection over a short in-memory list (epochs, a sweep's runs) in both directions, with
 * totalCount: offset cursors, 1,000 items per page unless first/last say otherwise (at most 10,000).
 */
export function arrayConnection<T>(args: PageArgs, items: readonly T[]) {
  return {
    ...resolveArrayConnection({ args, defaultSize: 1000, maxSize: 10_000 }, items),
    totalCount: items.length,
  };
}
