// External runs: createRun, logMetrics, logEpoch and finishRun, for metrics from any trainer
// (src/runs/external.ts). Rows take the trained runs' path, so batchMetrics, history, fluctuation and
// compareRuns serve both kinds.
import { RunStatus } from "../db/index.ts";
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import { builder } from "./builder.ts";
import { RunType } from "./Run.ts";
import { JSONObjectScalar, JSONScalar } from "./scalars.ts";

const runIdArg = {
  required: true,
  description: "The EXTERNAL run's id (the legacy number is accepted)",
} as const;

const CreateRunInput = builder.inputType("CreateRunInput", {
  description: "An EXTERNAL run: its trainer runs elsewhere and logs metrics with logMetrics",
  fields: (t) => ({
    name: t.string({ required: true, description: "Display name" }),
    tags: t.stringList({ description: "Labels for filtering (runs(filter: {tag}))" }),
    config: t.field({
      type: JSONObjectScalar,
      description: "Any JSON object: the trainer's hyperparameters",
    }),
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
    loss: t.float({ description: "Batch loss" }),
    accuracy: t.float({ description: "Batch accuracy, 0 to 1" }),
    lr: t.float({ description: "Learning rate of the step" }),
    gradNorm: t.float({ description: "Gradient L2 norm" }),
    confidence: t.float({ description: "Mean max softmax probability, 0 to 1" }),
    trueClassProb: t.float({ description: "Mean probability of the true class, 0 to 1" }),
    samples: t.int({ description: "samples in the batch; default 0" }),
    timeMs: t.float({ description: "wall time of the step in ms; default 0" }),
    custom: t.field({
      type: JSONScalar,
      description: 'Named custom scalars, e.g. {"perplexity": 12.3, "grad_norm/fc1": 0.4}',
    }),
  }),
});

const EpochInput = builder.inputType("EpochInput", {
  description: "One epoch of an EXTERNAL run; an epoch sent again replaces the stored one",
  fields: (t) => ({
    epoch: t.int({ required: true, description: "0-based epoch" }),
    trainLoss: t.float({ required: true, description: "Mean training loss of the epoch" }),
    trainAccuracy: t.float({ required: true, description: "Mean training accuracy, 0 to 1" }),
    valLoss: t.float({ description: "Validation loss, if validated" }),
    valAccuracy: t.float({ description: "Validation accuracy, 0 to 1, if validated" }),
    batches: t.int({ description: "Batches in the epoch (default 0)" }),
    timeMs: t.float({ description: "Wall time of the epoch in milliseconds (default 0)" }),
  }),
});

const LogResultType = builder
  .objectRef<{ stored: number; ignored: number; lastStep: number | null }>("LogResult")
  .implement({
    description: "What a logMetrics call stored",
    fields: (t) => ({
      stored: t.exposeInt("stored", { description: "Rows newly stored by this call" }),
      ignored: t.exposeInt("ignored", { description: "Rows already stored with the same values (retries)" }),
      lastStep: t.exposeInt("lastStep", { nullable: true, description: "The run's highest stored step" }),
    }),
  });

const FinishStatusEnum = builder.enumType("FinishStatus", {
  description: "How an EXTERNAL run ended",
  values: {
    COMPLETED: { value: RunStatus.COMPLETED, description: "It trained to the end" },
    FAILED: { value: RunStatus.FAILED, description: "Its trainer failed (say why in message)" },
    CANCELLED: { value: RunStatus.CANCELLED, description: "It was stopped on purpose" },
  } as const,
});

builder.mutationField("createRun", (t) =>
  t.field({
    type: RunType,
    description:
      "Creates an EXTERNAL run, RUNNING, with no model or dataset: log its metrics with logMetrics",
    errors: { types: [ValidationError], directResult: true },
    args: { input: t.arg({ type: CreateRunInput, required: true, description: "The run" }) },
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
      runId: t.arg.id(runIdArg),
      rows: t.arg({
        type: [MetricRowInput],
        required: true,
        description: "The rows (at most MAX_LOG_ROWS per call)",
      }),
    },
    resolve: (_root, { runId, rows }, ctx) => ctx.external.log(intId("run", runId), rows),
  }),
);

builder.mutationField("logEpoch", (t) =>
  t.int({
    description:
      "Stores per-epoch train/validation values of an EXTERNAL run (an epoch sent again is replaced)",
    errors: {
      types: [NotFoundError, ValidationError],
      result: { description: "What a logEpoch call stored" },
      dataField: { name: "stored", description: "Epochs stored (or replaced) by this call" },
    },
    args: {
      runId: t.arg.id(runIdArg),
      epochs: t.arg({ type: [EpochInput], required: true, description: "The epochs" }),
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
      runId: t.arg.id(runIdArg),
      status: t.arg({ type: FinishStatusEnum, required: true, description: "How it ended" }),
      message: t.arg.string({ description: "Why it ended (e.g. the exit code and last stderr lines)" }),
    },
    resolve: (_root, { runId, status, message }, ctx) =>
      ctx.external.finish(intId("run", runId), status, message ?? null),
  }),
);
