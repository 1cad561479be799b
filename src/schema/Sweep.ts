// Sweep: startSweep(input) expands a grid or random search over lr, batch size, optimizer, dropout
// on/off and seed into runs the workers share; sweep(id) reports its runs and the best by validation
// accuracy; Sweep.compare is compareRuns over every run of the sweep.
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import { chooseDataset } from "../runs/admission.ts";
import { MAX_SWEEP_RUNS, type SweepInput, type SweepReport, startSweep, sweepReport } from "../runs/sweep.ts";
import { builder } from "./builder.ts";
import { OptimizerKindEnum } from "./OptimizerKind.ts";
import { RunType } from "./Run.ts";
import { compareArgs, compareSeries, RunSeriesType } from "./RunSeries.ts";
import { arrayConnection } from "./resolve-helpers.ts";
import { AshaInput, SweepTrialType, sweepTrials } from "./SweepTrial.ts";
import { DateTimeScalar, JSONObjectScalar, JSONScalar } from "./scalars.ts";

const SweepStrategyEnum = builder.enumType("SweepStrategy", {
  description: "How a sweep picks its points",
  values: {
    GRID: { value: "grid", description: "Every combination of the space's values" },
    RANDOM: { value: "random", description: "`samples` points drawn from the space (seeded by samplerSeed)" },
  } as const,
});

const SweepSpaceInput = builder.inputType("SweepSpaceInput", {
  description: "The values each hyperparameter takes; a dimension left out keeps the base config's value",
  fields: (t) => ({
    lr: t.floatList({ description: "Learning rates (> 0)" }),
    batchSize: t.intList({ description: "Batch sizes, each ≥ 1" }),
    optimizer: t.field({ type: [OptimizerKindEnum], description: "Optimizers (each with its defaults)" }),
    dropout: t.booleanList({ description: "false trains with Dropout off" }),
    seed: t.intList({ description: "Seeds (one run per seed: repeats of a point)" }),
  }),
});

const StartSweepInput = builder.inputType("StartSweepInput", {
  description: "A hyperparameter search: a model, data, a base config and the space around it",
  fields: (t) => ({
    name: t.string({ description: "Display name (default: derived from the model and strategy)" }),
    model: t.id({ required: true, description: "The model's id (the legacy number is accepted)" }),
    dataset: t.id({ description: "A registered dataset id; or give datasetSpec" }),
    datasetSpec: t.field({ type: JSONScalar, description: "A dataset spec, as in StartRunInput" }),
    base: t.field({
      type: JSONObjectScalar,
      description: 'The run config each point starts from, e.g. {"epochs":2,"batchSize":10,"k":10}',
    }),
    strategy: t.field({ type: SweepStrategyEnum, required: true, description: "GRID or RANDOM" }),
    space: t.field({ type: SweepSpaceInput, required: true, description: "The values to search" }),
    samples: t.int({ description: "RANDOM: how many runs to sample, ≥ 1 (default 8)" }),
    samplerSeed: t.int({ description: "RANDOM: seed of the sampler (default 0)" }),
    seeds: t.int({
      description:
        "Repeat every point over this many seeds (1 to 100; default 1, the point's own seed): seed s, s+1, … where s is the point's seed (space.seed, else base.seed, else 0), for seed groups (compare(groupBy: SEED))",
    }),
    tags: t.stringList({ description: "Tags every run of the sweep carries" }),
    asha: t.field({
      type: AshaInput,
      description: "Successive halving (ASHA) over the points: stop the weaker trials at rungs of steps",
    }),
  }),
});

const SweepRef = builder.objectRef<SweepReport>("Sweep");

const SweepType = builder.node(SweepRef, {
  description: "A hyperparameter search: its runs, the best so far, and their curves side by side",
  id: { resolve: (s) => s.sweep.id },
  loadOne: (id, ctx) => sweepReport(ctx.db, intId("sweep", id)),
  fields: (t) => ({
    databaseId: t.int({
      description: "The sweep's number; arguments accept it in place of `id` (deprecated there)",
      resolve: (s) => s.sweep.id,
    }),
    name: t.string({ description: "Display name", resolve: (s) => s.sweep.name }),
    strategy: t.field({
      type: SweepStrategyEnum,
      description: "GRID or RANDOM",
      resolve: (s) => s.sweep.strategy as "grid" | "random",
    }),
    spec: t.field({
      type: JSONObjectScalar,
      description: "The input the sweep was started with",
      resolve: (s) => s.sweep.spec,
    }),
    createdAt: t.field({
      type: DateTimeScalar,
      description: "When it was started",
      resolve: (s) => s.sweep.createdAt,
    }),
    runs: t.connection(
      {
        type: RunType,
        description: "Its runs, in creation order (at most 256; offset cursors)",
        resolve: (s, args) => arrayConnection(args, s.runs),
      },
      {
        name: "SweepRunsConnection",
        description: "A page of a sweep's runs",
        fields: (c) => ({
          totalCount: c.int({ description: "Runs in the sweep", resolve: (conn) => conn.totalCount }),
        }),
      },
      { name: "SweepRunsEdge", description: "A run of the sweep and its cursor" },
    ),
    best: t.field({
      type: RunType,
      nullable: true,
      description: "The run with the highest validation accuracy so far (null before any evaluation)",
      resolve: (s) => s.best,
    }),
    completed: t.int({
      description: "Runs COMPLETED so far",
      resolve: (s) => s.runs.filter((r) => r.status === "COMPLETED").length,
    }),
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
    nullable: true,
    description:
      "The sweep with this id, or null when there is none (an id that is not a sweep id is an error)",
    args: { id: t.arg.id({ required: true, description: "The sweep's id (the legacy number is accepted)" }) },
    resolve: (_root, { id }, ctx) => sweepReport(ctx.db, intId("sweep", id)),
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
    args: { input: t.arg({ type: StartSweepInput, required: true, description: "The search" }) },
    resolve: async (_root, { input }, ctx) => {
      const started = await startSweep(ctx.runs, ctx.db, sweepRequest(input));
      return (await sweepReport(ctx.db, started.sweep.id)) ?? { ...started, best: null, rungs: [] };
    },
  }),
);
