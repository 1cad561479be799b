// External runs: createRun, logMetrics, logEpoch and finishRun, for metrics from any trainer
// (src/runs/external.ts). Rows take the trained runs' path, so batchMetrics, history, fluctuation and
// compareRuns serve both kinds.
import { RunStatus } from "../db/index.ts";
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import { builder } from "./builder.ts";
import { RunType } from "./Run.ts";
import { JSONScalar } from "./scalars.ts";

const CreateRunInput = builder.inputType("CreateRunInput", {
  description: "An EXTERNAL run: its trainer runs elsewhere and logs metrics with logMetrics",
  fields: (t) => ({
    name: t.string({ required: true }),
    tags: t.stringList(),
    config: t.field({ type: JSONScalar, description: "Any JSON object: the trainer's hyperparameters" }),
    totalSteps: t.int({ description: "Steps the trainer expects to log, if known (progress, compare)" }),
  }),
});

const MetricRowInput = builder.inputType("MetricRowInput", {
  description: "One logged step: only step is required; rows may come in any order and grouping",
  fields: (t) => ({
    step: t.int({
      required: true,
      description: "0-based step; a step sent again must carry the same values",
    }),
    epoch: t.int({ description: "default 0" }),
    batch: t.int({ description: "batch index within the epoch; default the step" }),
    loss: t.float(),
    accuracy: t.float(),
    lr: t.float(),
    gradNorm: t.float(),
    confidence: t.float(),
    trueClassProb: t.float(),
    samples: t.int({ description: "samples in the batch; default 0" }),
    timeMs: t.float({ description: "wall time of the step in ms; default 0" }),
    custom: t.field({
      type: JSONScalar,
      description: 'Named custom scalars, e.g. {"perplexity": 12.3, "grad_norm/fc1": 0.4}',
    }),
  }),
});

const EpochInput = builder.inputType("EpochInput", {
  fields: (t) => ({
    epoch: t.int({ required: true }),
    trainLoss: t.float({ required: true }),
    trainAccuracy: t.float({ required: true }),
    valLoss: t.float(),
    valAccuracy: t.float(),
    batches: t.int(),
    timeMs: t.float(),
  }),
});

const LogResultType = builder
  .objectRef<{ stored: number; ignored: number; lastStep: number | null }>("LogResult")
  .implement({
    fields: (t) => ({
      stored: t.exposeInt("stored", { description: "Rows newly stored by this call" }),
      ignored: t.exposeInt("ignored", { description: "Rows already stored with the same values (retries)" }),
      lastStep: t.exposeInt("lastStep", { nullable: true, description: "The run's highest stored step" }),
    }),
  });

const FinishStatusEnum = builder.enumType("FinishStatus", {
  values: {
    COMPLETED: { value: RunStatus.COMPLETED },
    FAILED: { value: RunStatus.FAILED },
    CANCELLED: { value: RunStatus.CANCELLED },
  } as const,
});

builder.mutationField("createRun", (t) =>
  t.field({
    type: RunType,
    description:
      "Creates an EXTERNAL run, RUNNING, with no model or dataset: log its metrics with logMetrics",
    errors: { types: [ValidationError], directResult: true },
    args: { input: t.arg({ type: CreateRunInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.external.create({
        name: input.name,
        tags: input.tags ?? [],
        config: input.config ?? {},
        totalSteps: input.totalSteps,
      }),
  }),
);

builder.mutationField("logMetrics", (t) =>
  t.field({
    type: LogResultType,
    description:
      "Stores rows of an EXTERNAL run, then streams them on batchMetrics. Idempotent per step: a step sent again with the same values is ignored; with other values the call is refused naming the step, and nothing of it is stored",
    errors: { types: [NotFoundError, ValidationError], directResult: true },
    args: {
      runId: t.arg.id({ required: true }),
      rows: t.arg({ type: [MetricRowInput], required: true }),
    },
    resolve: (_root, { runId, rows }, ctx) => ctx.external.log(intId("run", runId), rows),
  }),
);

builder.mutationField("logEpoch", (t) =>
  t.int({
    description:
      "Stores per-epoch train/validation values of an EXTERNAL run (an epoch sent again is replaced); returns how many",
    errors: { types: [NotFoundError, ValidationError] },
    args: {
      runId: t.arg.id({ required: true }),
      epochs: t.arg({ type: [EpochInput], required: true }),
    },
    resolve: (_root, { runId, epochs }, ctx) => ctx.external.logEpoch(intId("run", runId), epochs),
  }),
);

builder.mutationField("finishRun", (t) =>
  t.field({
    type: RunType,
    description:
      "Ends an EXTERNAL run: its streams complete; finishing again with the same status changes nothing",
    errors: { types: [NotFoundError, ValidationError], directResult: true },
    args: {
      runId: t.arg.id({ required: true }),
      status: t.arg({ type: FinishStatusEnum, required: true }),
      message: t.arg.string({ description: "Why it ended (e.g. the exit code and last stderr lines)" }),
    },
    resolve: (_root, { runId, status, message }, ctx) =>
      ctx.external.finish(intId("run", runId), status, message ?? null),
  }),
);
