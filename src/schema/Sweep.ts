// Sweep: startSweep(input) expands a grid or random search over lr, batch size, optimizer, dropout
// on/off and seed into runs the workers share; sweep(id) reports its runs and the best by validation
// accuracy; Sweep.compare is compareRuns over every run of the sweep.
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import { chooseDataset } from "../runs/admission.ts";
import { MAX_SWEEP_RUNS, type SweepInput, type SweepReport, startSweep, sweepReport } from "../runs/sweep.ts";
import { builder } from "./builder.ts";
import { RunType } from "./Run.ts";
import { compareArgs, compareSeries, RunSeriesType } from "./RunSeries.ts";
import { AshaInput, SweepTrialType, sweepTrials } from "./SweepTrial.ts";
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
    seeds: t.int({
      description:
        "Repeat every point over this many seeds (1 to 100; default 1, the point's own seed): seed s, s+1, … where s is the point's seed (space.seed, else base.seed, else 0), for seed groups (compare(groupBy: SEED))",
    }),
    tags: t.stringList(),
    asha: t.field({
      type: AshaInput,
      description: "Successive halving (ASHA) over the points: stop the weaker trials at rungs of steps",
    }),
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
    trials: t.field({
      type: [SweepTrialType],
      description:
        "ASHA: each run's highest rung, and whether it was promoted or stopped there (empty for other sweeps)",
      resolve: (s) => sweepTrials(s),
    }),
    compare: t.field({
      type: [RunSeriesType],
      description:
        "compareRuns over every run of the sweep; groupBy: SEED gives each series the band of its setting's seeds (see `seeds`)",
      args: compareArgs,
      resolve: (s, args, ctx) => compareSeries(ctx, s.runs, args),
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

type StartSweepArgs = typeof StartSweepInput.$inferInput;

/** The GraphQL input as a sweep request; every point is admitted (src/runs/admission.ts) before any run. */
function sweepRequest(input: StartSweepArgs): SweepInput {
  const base = input.base ?? {};
  if (typeof base !== "object" || base === null || Array.isArray(base))
    throw new ValidationError("base", 'base must be a run config object like {"epochs":2,"batchSize":10}');
  return {
    name: input.name ?? undefined,
    modelId: intId("model", input.model),
    dataset: chooseDataset(input.dataset, input.datasetSpec),
    base: base as Record<string, unknown>,
    strategy: input.strategy,
    space: Object.fromEntries(Object.entries(input.space).filter(([, v]) => v != null)),
    samples: input.samples ?? undefined,
    samplerSeed: input.samplerSeed ?? undefined,
    seeds: input.seeds ?? undefined,
    tags: input.tags ?? undefined,
    asha: input.asha
      ? Object.fromEntries(Object.entries(input.asha).filter(([, v]) => v != null))
      : undefined,
  };
}

builder.mutationField("startSweep", (t) =>
  t.field({
    type: SweepType,
    description: `Expands the search into runs (at most ${MAX_SWEEP_RUNS}), all QUEUED; workers share them`,
    errors: { types: [ValidationError, NotFoundError], directResult: true },
    args: { input: t.arg({ type: StartSweepInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const started = await startSweep(ctx.runs, ctx.db, sweepRequest(input));
      return (await sweepReport(ctx.db, started.sweep.id)) ?? { ...started, best: null, rungs: [] };
    },
  }),
);
