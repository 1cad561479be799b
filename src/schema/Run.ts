// Run: one training run, a Relay node. Queries `runs` (keyset connection, both directions) and
// `run(id)`; mutations startRun (StartRunInput.ts), cancelRun, resumeRun, deleteRun, exportModel
// (deprecated for Run.exportUrl). Its history fields read the database, never the runner.
import { type ListRunsOptions, type Metric, RunKind, type RunSortKey, RunStatus } from "../db/index.ts";
import { globalId, intId, NotFoundError, ValidationError } from "../errors.ts";
import { fluctuation } from "../stats/fluctuation.ts";
import { BatchMetricType } from "./BatchMetric.ts";
import { builder } from "./builder.ts";
import { EpochMetricType } from "./EpochMetric.ts";
import { ProviderNameEnum, providerOrNull } from "./ExecutionProvider.ts";
import { FluctuationType } from "./Fluctuation.ts";
import { HistoryType } from "./History.ts";
import { MetricEnum } from "./Metric.ts";
import { keysetPage, pageRequest } from "./paging.ts";
import { configObject, RunConfigType } from "./RunConfig.ts";
import { RunProgressType } from "./RunProgress.ts";
import {
  arrayConnection,
  batchMetricsConnection,
  checkCustomNames,
  checkMaxPoints,
  loadRun,
  readRows,
  smoothHistory,
  smoothingOf,
  withLossAndAccuracy,
} from "./resolve-helpers.ts";
import { JSONObjectScalar, PositiveIntScalar } from "./scalars.ts";
import { stringList } from "./shapes.ts";

export const RunStatusEnum = builder.enumType("RunStatus", {
  description: "Where a run is in its lifecycle",
  values: {
    QUEUED: { value: RunStatus.QUEUED, description: "Waiting for a worker" },
    RUNNING: {
      value: RunStatus.RUNNING,
      description: "Training (or, for an EXTERNAL run, accepting logged metrics)",
    },
    COMPLETED: { value: RunStatus.COMPLETED, description: "Finished every step" },
    FAILED: {
      value: RunStatus.FAILED,
      description: "Stopped by an error (errorMessage, failedAtStep); resumable from its latest checkpoint",
    },
    CANCELLED: { value: RunStatus.CANCELLED, description: "Stopped by cancelRun; resumable" },
    INTERRUPTED: {
      value: RunStatus.INTERRUPTED,
      description: "The process training it stopped; resumable from its latest checkpoint",
    },
  } as const,
});

export const RunKindEnum = builder.enumType("RunKind", {
  description: "Who trains the run",
  values: {
    TRAINED: { value: RunKind.TRAINED, description: "Compiled and trained by gradstream (startRun)" },
    EXTERNAL: {
      value: RunKind.EXTERNAL,
      description: "Trained elsewhere; its trainer logs metrics (createRun, logMetrics)",
    },
  } as const,
});

const MAX_FLUCTUATION_ROWS = 200_000;

/** Path of the route that serves a run's trained inference model (see src/server/app.ts). */
export function exportPath(runId: number): string {
  return `/exports/run-${runId}.onnx`;
}

export const RunType = builder.prismaNode("Run", {
  description: "One training run: its configuration, lifecycle, progress and every persisted metric",
  id: { field: "id" },
  // node(id:) answers null for a row that does not exist, as Relay expects, instead of throwing.
  nullable: true,
  fields: (t) => ({
    databaseId: t.exposeInt("id", {
      description:
        "The run's number (what the CLI and export URLs show); arguments accept it in place of `id` (deprecated there)",
    }),
    name: t.exposeString("name", { description: "Display name (not unique)" }),
    status: t.expose("status", { type: RunStatusEnum, description: "Lifecycle state" }),
    kind: t.expose("kind", { type: RunKindEnum, description: "TRAINED here or EXTERNAL (logged)" }),
    model: t.relation("model", { nullable: true, description: "The model trained; null for EXTERNAL runs" }),
    dataset: t.relation("dataset", { nullable: true, description: "The data; null for EXTERNAL runs" }),
    customMetrics: t.stringList({
      description: "Names of the run's custom metrics (logMetrics `custom`), sorted; empty for TRAINED runs",
      resolve: (r, _args, ctx) => ctx.db.customMetricNames(r.id),
    }),
    hyperparameters: t.expose("hyperparameters", {
      type: JSONObjectScalar,
      description:
        "The configuration as stored: for TRAINED runs the validated RunConfig (see `config`), for EXTERNAL runs the trainer's createRun config",
    }),
    config: t.field({
      type: RunConfigType,
      nullable: true,
      description:
        "The validated configuration as typed objects; null for EXTERNAL runs (see hyperparameters)",
      resolve: (r) => (r.kind === RunKind.EXTERNAL ? null : configObject(r.hyperparameters)),
    }),
    tags: t.stringList({
      description: "Labels given at start, for filtering (runs(filter: {tag}))",
      resolve: (r) => stringList(r.tags),
    }),
    seed: t.exposeInt("seed", {
      description: "Seed of initialization, shuffling and dropout (0 for EXTERNAL runs)",
    }),
    stepsPerChunk: t.expose("stepsPerChunk", {
      type: PositiveIntScalar,
      description: "K: steps per session.run and per streamed chunk (1 for EXTERNAL runs)",
    }),
    totalSteps: t.exposeInt("totalSteps", {
      description: "Steps the run will take (epochs × batches per epoch); 0 when an EXTERNAL run did not say",
    }),
    stepsCompleted: t.exposeInt("stepsCompleted", { description: "Steps persisted so far" }),
    lastStep: t.exposeInt("lastStep", {
      nullable: true,
      description: "Highest persisted step; null before the first",
    }),
    epochsCompleted: t.exposeInt("epochsCompleted", { description: "Epochs finished so far" }),
    bestValAccuracy: t.exposeFloat("bestValAccuracy", {
      nullable: true,
      description: "Highest validation accuracy (0 to 1) so far; null before any validation",
    }),
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
    providerRequested: t.field({
      type: ProviderNameEnum,
      nullable: true,
      description: "The execution provider asked for; null for EXTERNAL runs",
      resolve: (r) => providerOrNull(r.providerRequested),
    }),
    providerUsed: t.field({
      type: ProviderNameEnum,
      nullable: true,
      description: "The execution provider that trained it; null before it starts and for EXTERNAL runs",
      resolve: (r) => providerOrNull(r.providerUsed),
    }),
    threads: t.exposeInt("threads", {
      nullable: true,
      description:
        "onnxruntime intra-op threads its latest start trained on (THREADS_PER_RUN, else the server's cores ÷ MAX_CONCURRENT_RUNS). Losses depend on it: parallel kernels sum in another order, so two runs with one seed match step for step only with the same count. Null before it starts, for EXTERNAL runs and for runs started before it was recorded",
    }),
    errorMessage: t.exposeString("errorMessage", {
      nullable: true,
      description: "Why it FAILED or was INTERRUPTED; null otherwise",
    }),
    failedAtStep: t.exposeInt("failedAtStep", {
      nullable: true,
      description: "The step it failed at; null unless FAILED",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was created" }),
    startedAt: t.expose("startedAt", {
      type: "DateTime",
      nullable: true,
      description: "When training began; null while QUEUED",
    }),
    finishedAt: t.expose("finishedAt", {
      type: "DateTime",
      nullable: true,
      description: "When it reached COMPLETED, FAILED or CANCELLED; null before",
    }),
    progress: t.field({
      type: RunProgressType,
      description: "Where it is and how fast it goes",
      resolve: (r, _args, ctx) => ctx.runs.progress(r.id),
    }),
    exportUrl: t.string({
      nullable: true,
      description:
        "URL of the trained inference model (the forward ONNX graph with the latest checkpoint's weights); null until the run has a checkpoint",
      select: { checkpoints: { select: { id: true }, take: 1 } },
      resolve: (r, _args, ctx) => (r.checkpoints.length > 0 ? `${ctx.origin}${exportPath(r.id)}` : null),
    }),
    batchMetrics: t.connection(
      {
        type: BatchMetricType,
        description:
          "Persisted batches in step order (cursors are steps): first/after pages from the start, last/before from the end; at most MAX_PAGE_SIZE per page",
        resolve: (r, args, ctx) => batchMetricsConnection(ctx, r, args),
      },
      {
        name: "RunBatchMetricsConnection",
        description: "A page of a run's batches",
        fields: (c) => ({
          totalCount: c.int({
            description: "Batches persisted so far (the run's stepsCompleted)",
            resolve: (conn) => conn.totalCount,
          }),
        }),
      },
      { name: "RunBatchMetricsEdge", description: "A batch and its cursor" },
    ),
    history: t.field({
      type: HistoryType,
      description: "Metrics downsampled to at most maxPoints buckets over [fromStep, toStep]",
      args: {
        metrics: t.arg({
          type: [MetricEnum],
          defaultValue: ["loss", "accuracy"],
          required: true,
          description: "The metrics each bucket summarizes (the others are null)",
        }),
        custom: t.arg.stringList({
          description:
            "Custom metrics to downsample too, by name (see customMetrics); on each bucket's `custom`",
        }),
        fromStep: t.arg.int({ description: "First step of the range (default 0)" }),
        toStep: t.arg.int({ description: "Last step of the range, inclusive (default: the last persisted)" }),
        maxPoints: t.arg.int({
          defaultValue: 500,
          required: true,
          description: "At most this many buckets, 1 to MAX_POINTS",
        }),
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
    epochs: t.connection(
      {
        type: EpochMetricType,
        description: "Per-epoch train/validation values in epoch order (offset cursors)",
        resolve: async (r, args, ctx) => arrayConnection(args, await ctx.db.epochMetrics(r.id)),
      },
      {
        name: "RunEpochsConnection",
        description: "A page of a run's epochs",
        fields: (c) => ({
          totalCount: c.int({ description: "Epochs stored", resolve: (conn) => conn.totalCount }),
        }),
      },
      { name: "RunEpochsEdge", description: "An epoch and its cursor" },
    ),
    fluctuation: t.field({
      type: FluctuationType,
      description: "Rolling mean, std and CV of batch loss and accuracy, and their correlation",
      args: {
        window: t.arg.int({
          defaultValue: 20,
          required: true,
          description: "Batches per rolling window, 2 to 10000",
        }),
        fromStep: t.arg.int({ description: "First step of the range (default 0)" }),
        toStep: t.arg.int({ description: "Last step of the range, inclusive (default: the last persisted)" }),
        maxPoints: t.arg.int({
          defaultValue: 500,
          required: true,
          description: "At most this many points, 1 to MAX_POINTS",
        }),
      },
      resolve: async (r, args, ctx) => {
        if (args.window < 2 || args.window > 10_000) {
          throw new ValidationError(
            "window",
            `window must be an integer from 2 to 10000, got ${args.window}`,
          );
        }
        checkMaxPoints(ctx, args.maxPoints);
        const to = args.toStep ?? 2 ** 31 - 1;
        const rows = await readRows(ctx, r.id, args.fromStep ?? 0, to, MAX_FLUCTUATION_ROWS);
        return fluctuation(withLossAndAccuracy(rows), args.window, args.maxPoints);
      },
    }),
    checkpoints: t.relatedConnection(
      "checkpoints",
      {
        cursor: "id",
        totalCount: true,
        description: "Saved training states, oldest first: resumeRun continues from the latest",
        query: { orderBy: { id: "asc" } },
      },
      { name: "RunCheckpointsConnection", description: "A page of a run's checkpoints" },
      { name: "RunCheckpointsEdge", description: "A checkpoint and its cursor" },
    ),
  }),
});

// ── queries ─────────────────────────────────────────────────────────────────────────────────────
const RunOrderEnum = builder.enumType("RunOrder", {
  description: "Order of the runs connection",
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
  description: "Which runs to list; every field given must match (absent fields match all)",
  fields: (t) => ({
    status: t.field({ type: [RunStatusEnum], required: false, description: "Any of these statuses" }),
    model: t.id({
      required: false,
      description: "Runs of this model (its id; the legacy number is accepted)",
    }),
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
        "Runs matching the filter, sorted in the database (indexed) and keyset-paginated (stable under concurrent inserts): first/after pages in `orderBy` order, last/before from the other end; at most 100 per page",
      args: {
        filter: t.arg({ type: RunFilter, description: "Which runs (default: all)" }),
        orderBy: t.arg({
          type: RunOrderEnum,
          defaultValue: "id:desc",
          required: true,
          description: "The connection's order",
        }),
      },
      resolve: async (_root, args, ctx) => {
        const req = pageRequest("run", args, 20, 100);
        const filter = filterOf(args.filter);
        // A backward page is read nearest-first from the cursor; keysetPage puts it back in order.
        const fetched = await ctx.db.listRuns({
          ...filter,
          ...sortOf(args.orderBy),
          backward: !req.forward,
          first: req.size + 1,
          after: req.cursor,
        });
        const more = fetched.length > req.size;
        const page = keysetPage("run", req, fetched.slice(0, req.size), more, (r) => r.id);
        return { ...page, totalCount: () => ctx.db.countRuns(filter) };
      },
    },
    {
      name: "RunConnection",
      description: "A page of runs",
      fields: (c) => ({
        totalCount: c.int({ description: "Runs matching the filter", resolve: (conn) => conn.totalCount() }),
      }),
    },
    { name: "RunEdge", description: "A run and its cursor" },
  ),
);

/** A RunOrder value ("key:dir") as listRuns' sort options. */
function sortOf(order: string): Pick<ListRunsOptions, "sortBy" | "order"> {
  const [sortBy, dir] = order.split(":") as [RunSortKey, "asc" | "desc"];
  return { sortBy, order: dir };
}

/** A RunFilter as listRuns' filter options; the ranges must be numbers with min ≤ max. */
function filterOf(f: typeof RunFilter.$inferInput | null | undefined) {
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
  } satisfies Partial<ListRunsOptions>;
}

builder.queryField("run", (t) =>
  t.prismaField({
    type: "Run",
    nullable: true,
    description:
      "The run with this id, or null when there is none (an id that is not a run id at all is an error)",
    args: { id: t.arg.id({ required: true, description: "The run's id (the legacy number is accepted)" }) },
    resolve: (query, _root, { id }, ctx) =>
      ctx.db.prisma.run.findUnique({ ...query, where: { id: intId("run", id) } }),
  }),
);

// ── lifecycle mutations ─────────────────────────────────────────────────────────────────────────
const runIdArg = { required: true, description: "The run's id (the legacy number is accepted)" } as const;

builder.mutationField("cancelRun", (t) =>
  t.field({
    type: RunType,
    description: "Stops a QUEUED or RUNNING run; what was persisted stays",
    errors: { types: [NotFoundError, ValidationError], directResult: true },
    args: { id: t.arg.id(runIdArg) },
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
    args: { id: t.arg.id(runIdArg) },
    resolve: async (_root, { id }, ctx) => {
      const run = await loadRun(ctx, id);
      return ctx.runs.resume(run.id);
    },
  }),
);

builder.mutationField("deleteRun", (t) =>
  t.id({
    description: "Deletes a run with its metrics and checkpoints (a running run is cancelled first)",
    errors: {
      types: [NotFoundError, ValidationError],
      result: { description: "A deleted run" },
      dataField: { name: "deletedRunId", description: "The id the deleted run had" },
    },
    args: { id: t.arg.id(runIdArg) },
    resolve: async (_root, { id }, ctx) => {
      const run = await loadRun(ctx, id);
      if (!(await ctx.runs.delete(run.id))) throw new NotFoundError("run", String(id));
      return globalId("run", run.id);
    },
  }),
);

builder.mutationField("exportModel", (t) =>
  t.string({
    description:
      "A URL that serves the trained inference model (the forward ONNX graph with the latest checkpoint's weights)",
    deprecationReason: "Read Run.exportUrl (null until the run has a checkpoint); removed in 0.3",
    errors: {
      types: [NotFoundError, ValidationError],
      // The names it had before payloads were named, so existing clients keep working until removal.
      union: { name: "MutationExportModelResult" },
      result: {
        name: "MutationExportModelSuccess",
        description: "Where to download a run's inference model",
      },
      dataField: { description: "The URL (GET it; it honours API tokens like /graphql)" },
    },
    args: { runId: t.arg.id(runIdArg) },
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
