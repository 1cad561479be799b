// Run: one training run. Queries `runs` (keyset Relay connection) and `run(id)`; mutations startRun,
// cancelRun, resumeRun, deleteRun, exportModel. Its history fields read the database, never the runner.
import { type ListRunsOptions, type Metric, RunKind, type RunSortKey, RunStatus } from "../db/index.ts";
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import { fluctuation } from "../stats/fluctuation.ts";
import { BatchMetricType } from "./BatchMetric.ts";
import { builder } from "./builder.ts";
import { EpochMetricType } from "./EpochMetric.ts";
import { FluctuationType } from "./Fluctuation.ts";
import { HistoryType } from "./History.ts";
import { MetricEnum } from "./Metric.ts";
import { RunProgressType } from "./RunProgress.ts";
import {
  checkCustomNames,
  checkMaxPoints,
  idPage,
  loadRun,
  readRows,
  smoothHistory,
  smoothingOf,
  withLossAndAccuracy,
} from "./resolve-helpers.ts";
import { JSONScalar } from "./scalars.ts";
import { decodeCursor, encodeCursor, stringList } from "./shapes.ts";

export const RunStatusEnum = builder.enumType(RunStatus, { name: "RunStatus" });
export const RunKindEnum = builder.enumType(RunKind, {
  name: "RunKind",
  description:
    "TRAINED: compiled and trained by gradstream; EXTERNAL: logged by any trainer (createRun/logMetrics)",
});

const MAX_FLUCTUATION_ROWS = 200_000;

function pageSize(first: number | null | undefined, dflt: number, max: number): number {
  const n = first ?? dflt;
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new ValidationError("first", `first must be an integer from 1 to ${max}, got ${String(first)}`);
  }
  return n;
}

function noBackward(args: { last?: number | null; before?: string | null }): void {
  if (args.last != null || args.before != null) {
    throw new ValidationError(
      "last",
      "backward pagination (last/before) is not supported; page forward with first/after",
    );
  }
}

export const RunType = builder.prismaObject("Run", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    status: t.expose("status", { type: RunStatusEnum }),
    kind: t.expose("kind", { type: RunKindEnum }),
    model: t.relation("model", { nullable: true, description: "null for EXTERNAL runs" }),
    dataset: t.relation("dataset", { nullable: true, description: "null for EXTERNAL runs" }),
    customMetrics: t.stringList({
      description: "Names of the run's custom metrics (logMetrics `custom`), sorted",
      resolve: (r, _args, ctx) => ctx.db.customMetricNames(r.id),
    }),
    hyperparameters: t.expose("hyperparameters", {
      type: JSONScalar,
      description:
        "The validated run configuration: optimizer, epochs, batchSize, k, seed, schedule, validation…",
    }),
    tags: t.stringList({ resolve: (r) => stringList(r.tags) }),
    seed: t.exposeInt("seed"),
    stepsPerChunk: t.exposeInt("stepsPerChunk", {
      description: "K: steps per session.run and per streamed chunk",
    }),
    totalSteps: t.exposeInt("totalSteps"),
    stepsCompleted: t.exposeInt("stepsCompleted"),
    lastStep: t.exposeInt("lastStep", { nullable: true }),
    epochsCompleted: t.exposeInt("epochsCompleted"),
    bestValAccuracy: t.exposeFloat("bestValAccuracy", { nullable: true }),
    lastLoss: t.exposeFloat("lastLoss", {
      nullable: true,
      description:
        "The loss at the run's latest step that carries one; null before any (runs can sort by it)",
    }),
    durationMs: t.exposeFloat("durationMs", {
      nullable: true,
      description:
        "finishedAt − startedAt in milliseconds; null until the run has ended (runs can sort by it)",
    }),
    providerRequested: t.exposeString("providerRequested"),
    providerUsed: t.exposeString("providerUsed", { nullable: true }),
    errorMessage: t.exposeString("errorMessage", { nullable: true }),
    failedAtStep: t.exposeInt("failedAtStep", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    progress: t.field({
      type: RunProgressType,
      resolve: (r, _args, ctx) => ctx.runs.progress(r.id),
    }),
    batchMetrics: t.connection(
      {
        type: BatchMetricType,
        description: "Persisted batches in step order (keyset pages: cursors are steps)",
        resolve: async (r, args, ctx) => {
          noBackward(args);
          const first = pageSize(args.first, 100, ctx.config.limits.maxPageSize);
          const after = decodeCursor("step", args.after);
          if (Number.isNaN(after))
            throw new ValidationError("after", "after is not a cursor this connection issued");
          const page = await ctx.db.batchMetricsPage(r.id, after ?? -1, first);
          const edges = page.rows.map((row) => ({ cursor: encodeCursor("step", row.step), node: row }));
          return {
            edges,
            pageInfo: {
              hasNextPage: page.hasNextPage,
              hasPreviousPage: (after ?? -1) >= 0,
              startCursor: edges[0]?.cursor ?? null,
              endCursor: edges.at(-1)?.cursor ?? null,
            },
          };
        },
      },
      { name: "RunBatchMetricsConnection" },
      { name: "RunBatchMetricsEdge" },
    ),
    history: t.field({
      type: HistoryType,
      description: "Metrics downsampled to at most maxPoints buckets over [fromStep, toStep]",
      args: {
        metrics: t.arg({ type: [MetricEnum], defaultValue: ["loss", "accuracy"], required: true }),
        custom: t.arg.stringList({
          description:
            "Custom metrics to downsample too, by name (see customMetrics); on each bucket's `custom`",
        }),
        fromStep: t.arg.int(),
        toStep: t.arg.int(),
        maxPoints: t.arg.int({ defaultValue: 500, required: true }),
        smoothing: t.arg.float({
          defaultValue: 0,
          description:
            "Weight w of TensorBoard's debiased EMA for each series' `smoothed` (the dashboard's slider): 0 (off) ≤ w < 1",
        }),
      },
      resolve: async (r, args, ctx) => {
        const custom = checkCustomNames(ctx, args.custom ?? []);
        checkMaxPoints(ctx, args.maxPoints);
        const w = smoothingOf(args.smoothing);
        const h = await ctx.db.history(r.id, {
          metrics: args.metrics as Metric[],
          custom,
          fromStep: args.fromStep ?? undefined,
          toStep: args.toStep ?? undefined,
          maxPoints: args.maxPoints,
        });
        return smoothHistory(h, args.metrics as Metric[], custom, w);
      },
    }),
    epochs: t.field({ type: [EpochMetricType], resolve: (r, _args, ctx) => ctx.db.epochMetrics(r.id) }),
    fluctuation: t.field({
      type: FluctuationType,
      description: "Rolling mean, std and CV of batch loss and accuracy, and their correlation",
      args: {
        window: t.arg.int({ defaultValue: 20, required: true }),
        fromStep: t.arg.int(),
        toStep: t.arg.int(),
        maxPoints: t.arg.int({ defaultValue: 500, required: true }),
      },
      resolve: async (r, args, ctx) => {
        if (args.window < 2 || args.window > 10_000) {
          throw new ValidationError(
            "window",
            `window must be an integer from 2 to 10000, got ${args.window}`,
          );
        }
        checkMaxPoints(ctx, args.maxPoints);
        const rows = await readRows(
          ctx,
          r.id,
          args.fromStep ?? 0,
          args.toStep ?? 2 ** 31 - 1,
          MAX_FLUCTUATION_ROWS,
        );
        return fluctuation(withLossAndAccuracy(rows), args.window, args.maxPoints);
      },
    }),
    checkpoints: t.relation("checkpoints", { query: { orderBy: { step: "asc" } } }),
  }),
});

// ── queries ─────────────────────────────────────────────────────────────────────────────────────
const RunOrderEnum = builder.enumType("RunOrder", {
  values: {
    NEWEST_FIRST: { value: "id:desc", description: "Most recently created first (default)" },
    OLDEST_FIRST: { value: "id:asc", description: "First created first" },
    BEST_VAL_ACCURACY_HIGHEST_FIRST: {
      value: "bestValAccuracy:desc",
      description: "Highest best validation accuracy first; runs with none yet last",
    },
    BEST_VAL_ACCURACY_LOWEST_FIRST: {
      value: "bestValAccuracy:asc",
      description: "Lowest best validation accuracy first; runs with none yet last",
    },
    LAST_LOSS_LOWEST_FIRST: {
      value: "lastLoss:asc",
      description: "Lowest loss at the run's latest step first; runs with no loss yet last",
    },
    LAST_LOSS_HIGHEST_FIRST: {
      value: "lastLoss:desc",
      description: "Highest loss at the run's latest step first; runs with no loss yet last",
    },
    DURATION_SHORTEST_FIRST: {
      value: "durationMs:asc",
      description: "Shortest finishedAt − startedAt first; runs that have not ended last",
    },
    DURATION_LONGEST_FIRST: {
      value: "durationMs:desc",
      description: "Longest finishedAt − startedAt first; runs that have not ended last",
    },
  } as const,
});

const RunFilter = builder.inputType("RunFilter", {
  fields: (t) => ({
    status: t.field({ type: [RunStatusEnum], required: false, description: "Any of these statuses" }),
    model: t.id({ required: false, description: "Runs of this model id" }),
    tag: t.string({ required: false, description: "Runs carrying this tag (exact match)" }),
    minBestValAccuracy: t.float({
      required: false,
      description:
        "Runs whose best validation accuracy is at least this (0 to 1); runs with none are left out",
    }),
    maxBestValAccuracy: t.float({
      required: false,
      description:
        "Runs whose best validation accuracy is at most this (0 to 1); runs with none are left out",
    }),
    minLastLoss: t.float({
      required: false,
      description: "Runs whose loss at their latest step is at least this; runs with no loss are left out",
    }),
    maxLastLoss: t.float({
      required: false,
      description: "Runs whose loss at their latest step is at most this; runs with no loss are left out",
    }),
    minDurationMs: t.float({
      required: false,
      description:
        "Runs that ran at least this many ms (finishedAt − startedAt); unfinished runs are left out",
    }),
    maxDurationMs: t.float({
      required: false,
      description:
        "Runs that ran at most this many ms (finishedAt − startedAt); unfinished runs are left out",
    }),
  }),
});

builder.queryField("runs", (t) =>
  t.connection(
    {
      type: RunType,
      description:
        "Runs matching the filter, sorted in the database (indexed) and keyset-paginated: stable under concurrent inserts",
      args: {
        filter: t.arg({ type: RunFilter }),
        orderBy: t.arg({ type: RunOrderEnum, defaultValue: "id:desc", required: true }),
      },
      resolve: async (_root, args, ctx) => {
        noBackward(args);
        const first = pageSize(args.first, 20, 100);
        const after = decodeCursor("run", args.after);
        if (Number.isNaN(after))
          throw new ValidationError("after", "after is not a cursor this connection issued");
        const matched = await ctx.db.listRuns({
          first: first + 1,
          after,
          ...sortOf(args.orderBy),
          ...filterOf(args.filter),
        });
        return idPage("run", matched, first, after);
      },
    },
    { name: "RunConnection" },
    { name: "RunEdge" },
  ),
);

/** A RunOrder value ("key:dir") as listRuns' sort options. */
function sortOf(order: string): Pick<ListRunsOptions, "sortBy" | "order"> {
  const [sortBy, dir] = order.split(":") as [RunSortKey, "asc" | "desc"];
  return { sortBy, order: dir };
}

/** A RunFilter as listRuns' filter options; the ranges must be numbers with min ≤ max. */
function filterOf(f: typeof RunFilter.$inferInput | null | undefined): Partial<ListRunsOptions> {
  if (!f) return {};
  for (const k of ["BestValAccuracy", "LastLoss", "DurationMs"] as const) {
    const lo = f[`min${k}`];
    const hi = f[`max${k}`];
    if (lo != null && hi != null && lo > hi)
      throw new ValidationError(
        `filter.min${k}`,
        `filter.min${k} (${lo}) must not exceed filter.max${k} (${hi})`,
      );
  }
  return {
    status: f.status ?? undefined,
    modelId: f.model != null ? intId("model", f.model) : undefined,
    tag: f.tag,
    minBestValAccuracy: f.minBestValAccuracy,
    maxBestValAccuracy: f.maxBestValAccuracy,
    minLastLoss: f.minLastLoss,
    maxLastLoss: f.maxLastLoss,
    minDurationMs: f.minDurationMs,
    maxDurationMs: f.maxDurationMs,
  };
}

builder.queryField("run", (t) =>
  t.prismaField({
    type: "Run",
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const run = await ctx.db.prisma.run.findUnique({ ...query, where: { id: intId("run", id) } });
      if (!run) throw new NotFoundError("run", String(id));
      return run;
    },
  }),
);

// ── lifecycle mutations ─────────────────────────────────────────────────────────────────────────
builder.mutationField("cancelRun", (t) =>
  t.field({
    type: RunType,
    description: "Stops a QUEUED or RUNNING run; what was persisted stays",
    errors: { types: [NotFoundError, ValidationError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const run = await loadRun(ctx, id);
      return ctx.runs.cancel(run.id);
    },
  }),
);

builder.mutationField("resumeRun", (t) =>
  t.field({
    type: RunType,
    description:
      "Resumes an INTERRUPTED, CANCELLED or FAILED run from its latest checkpoint (same step numbers)",
    errors: { types: [NotFoundError, ValidationError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const run = await loadRun(ctx, id);
      return ctx.runs.resume(run.id);
    },
  }),
);

builder.mutationField("deleteRun", (t) =>
  t.id({
    description:
      "Deletes a run with its metrics and checkpoints (a running run is cancelled first); returns its id",
    errors: { types: [NotFoundError, ValidationError] },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const run = await loadRun(ctx, id);
      if (!(await ctx.runs.delete(run.id))) throw new NotFoundError("run", String(id));
      return String(run.id);
    },
  }),
);

/** Path of the route that serves a run's trained inference model (see src/server/app.ts). */
export function exportPath(runId: number): string {
  return `/exports/run-${runId}.onnx`;
}

builder.mutationField("exportModel", (t) =>
  t.string({
    description:
      "A URL that serves the trained inference model (the forward ONNX graph with the latest checkpoint's weights)",
    errors: { types: [NotFoundError, ValidationError] },
    args: { runId: t.arg.id({ required: true }) },
    resolve: async (_root, { runId }, ctx) => {
      const run = await loadRun(ctx, runId);
      if (!(await ctx.db.latestCheckpoint(run.id))) {
        throw new ValidationError(
          "runId",
          `run ${run.id} has no checkpoint yet (status ${run.status}); export is available once it has trained a chunk`,
        );
      }
      return `${ctx.origin}${exportPath(run.id)}`;
    },
  }),
);
