// Sweep: startSweep(input) expands a grid or random search over lr, batch size, optimizer, dropout
// on/off and seed into runs the workers share; sweep(id) reports its runs and the best by validation
// accuracy; Sweep.compare is compareRuns over every run of the sweep.
import type { Metric } from "../db/index.ts";
import { MAX_SWEEP_RUNS, type SweepReport, startSweep, sweepReport } from "../runs/sweep.ts";
import type { StartRunInput } from "../runs/types.ts";
import { builder } from "./builder.ts";
import { intId, NotFoundError, ValidationError } from "./errors.ts";
import { MetricEnum } from "./Metric.ts";
import { MAX_POINTS, RunType } from "./Run.ts";
import { RunSeriesType } from "./RunSeries.ts";
import { managed } from "./resolve-helpers.ts";
import { specFrom } from "./StartRunInput.ts";
import { DateTimeScalar, JSONScalar } from "./scalars.ts";

const SweepStrategyEnum = builder.enumType("SweepStrategy", {
  values: { GRID: { value: "grid" }, RANDOM: { value: "random" } } as const,
});

const SweepSpaceInput = builder.inputType("SweepSpaceInput", {
  description: "The values each hyperparameter takes; a dimension left out keeps the base config's value",
  fields: (t) => ({
    lr: t.floatList(),
    batchSize: t.intList(),
    optimizer: t.stringList({ description: "Optimizer kinds: sgd, adam, adamw, rmsprop" }),
    dropout: t.booleanList({ description: "false trains with Dropout off" }),
    seed: t.intList(),
  }),
});

const StartSweepInput = builder.inputType("StartSweepInput", {
  fields: (t) => ({
    name: t.string(),
    model: t.id({ required: true }),
    dataset: t.id({ description: "A registered dataset id; or give datasetSpec" }),
    datasetSpec: t.field({ type: JSONScalar, description: "A dataset spec, as in StartRunInput" }),
    base: t.field({
      type: JSONScalar,
      description: 'The run config each point starts from, e.g. {"epochs":2,"batchSize":10,"k":10}',
    }),
    strategy: t.field({ type: SweepStrategyEnum, required: true }),
    space: t.field({ type: SweepSpaceInput, required: true }),
    samples: t.int({ description: "RANDOM: how many runs to sample (default 8)" }),
    samplerSeed: t.int({ description: "RANDOM: seed of the sampler (default 0)" }),
    tags: t.stringList(),
  }),
});

const SweepType = builder.objectRef<SweepReport>("Sweep").implement({
  fields: (t) => ({
    id: t.id({ resolve: (s) => String(s.sweep.id) }),
    name: t.string({ resolve: (s) => s.sweep.name }),
    strategy: t.field({ type: SweepStrategyEnum, resolve: (s) => s.sweep.strategy as "grid" | "random" }),
    spec: t.field({
      type: JSONScalar,
      description: "The input the sweep was started with",
      resolve: (s) => s.sweep.spec,
    }),
    createdAt: t.field({ type: DateTimeScalar, resolve: (s) => s.sweep.createdAt }),
    runs: t.field({ type: [RunType], resolve: (s) => s.runs }),
    best: t.field({
      type: RunType,
      nullable: true,
      description: "The run with the highest validation accuracy so far (null before any evaluation)",
      resolve: (s) => s.best,
    }),
    completed: t.int({ resolve: (s) => s.runs.filter((r) => r.status === "COMPLETED").length }),
    compare: t.field({
      type: [RunSeriesType],
      description: "compareRuns over every run of the sweep",
      args: {
        metric: t.arg({ type: MetricEnum, defaultValue: "loss", required: true }),
        maxPoints: t.arg.int({ defaultValue: 200, required: true }),
      },
      resolve: async (s, { metric, maxPoints }, ctx) => {
        if (maxPoints < 1 || maxPoints > MAX_POINTS)
          throw new ValidationError(
            "maxPoints",
            `maxPoints must be from 1 to ${MAX_POINTS}, got ${maxPoints}`,
          );
        const m = metric as Metric;
        return Promise.all(
          s.runs.map(async (run) => {
            const h = await ctx.db.history(run.id, { metrics: [m], maxPoints });
            const total = Math.max(1, run.totalSteps);
            const points = h.buckets.flatMap((b) => {
              const v = b.values[m];
              return v ? [{ step: b.lastStep, progress: (b.lastStep + 1) / total, ...v }] : [];
            });
            return { run, metric: m, customMetric: null, points };
          }),
        );
      },
    }),
  }),
});

builder.queryField("sweep", (t) =>
  t.field({
    type: SweepType,
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const report = await sweepReport(ctx.db, intId("sweep", id));
      if (!report) throw new NotFoundError("sweep", String(id));
      return report;
    },
  }),
);

builder.mutationField("startSweep", (t) =>
  t.field({
    type: SweepType,
    description: `Expands the search into runs (at most ${MAX_SWEEP_RUNS}), all QUEUED; workers share them`,
    errors: { types: [ValidationError, NotFoundError], directResult: true },
    args: { input: t.arg({ type: StartSweepInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const modelId = intId("model", input.model);
      if (!(await ctx.db.getModel(modelId))) throw new NotFoundError("model", String(input.model));
      if ((input.dataset == null) === (input.datasetSpec == null))
        throw new ValidationError(
          "dataset",
          "give exactly one of dataset (a registered dataset id) or datasetSpec",
        );
      let dataset: StartRunInput["dataset"];
      if (input.dataset != null) {
        const row = await ctx.db.getDataset(intId("dataset", input.dataset));
        if (!row) throw new NotFoundError("dataset", String(input.dataset));
        specFrom(row.parameters, ctx.config.dataDirs);
        dataset = { id: row.id };
      } else {
        // Files confined to DATA_DIR before any run (or file read) exists.
        dataset = { spec: specFrom(input.datasetSpec, ctx.config.dataDirs) };
      }
      const base = input.base ?? {};
      if (typeof base !== "object" || base === null || Array.isArray(base))
        throw new ValidationError(
          "base",
          'base must be a run config object like {"epochs":2,"batchSize":10}',
        );
      const space = Object.fromEntries(Object.entries(input.space).filter(([, v]) => v != null));
      const started = await managed("", "space", () =>
        startSweep(ctx.runs, ctx.db, {
          name: input.name ?? undefined,
          modelId,
          dataset,
          base: base as Record<string, unknown>,
          strategy: input.strategy,
          space,
          samples: input.samples ?? undefined,
          samplerSeed: input.samplerSeed ?? undefined,
          tags: input.tags ?? undefined,
        }),
      );
      return (await sweepReport(ctx.db, started.sweep.id)) ?? { ...started, best: null };
    },
  }),
);
