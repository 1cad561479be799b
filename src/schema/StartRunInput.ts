// StartRunInput and the startRun mutation: every field is validated once (src/runs/admission.ts)
// before a run exists, and an error names the field and what is accepted.
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import { chooseDataset } from "../runs/admission.ts";
import type { StartRunInput } from "../runs/types.ts";
import { AlertsInput } from "./Alert.ts";
import { builder } from "./builder.ts";
import { EarlyStoppingInput, watchRequest } from "./EarlyStopping.ts";
import { ProviderNameEnum } from "./ExecutionProvider.ts";
import { NoiseInput, noiseConfig } from "./NoiseReport.ts";
import { OptimizerKindEnum } from "./OptimizerKind.ts";
import { RunType } from "./Run.ts";
import { JSONScalar } from "./scalars.ts";

const OptimizerInput = builder.inputType("OptimizerInput", {
  description: "torch.optim semantics; unset fields take PyTorch's defaults",
  fields: (t) => ({
    kind: t.field({ type: OptimizerKindEnum, required: true, description: "Which optimizer" }),
    lr: t.float({
      description: "Base learning rate, > 0 (default 0.01 for sgd and rmsprop, 0.001 for adam and adamw)",
    }),
    momentum: t.float({ description: "sgd, rmsprop: momentum factor, 0 to 1 (default 0)" }),
    dampening: t.float({ description: "sgd: dampening of momentum (default 0)" }),
    nesterov: t.boolean({ description: "sgd: Nesterov momentum (default false; needs momentum > 0)" }),
    beta1: t.float({ description: "adam, adamw: first-moment decay (default 0.9)" }),
    beta2: t.float({ description: "adam, adamw: second-moment decay (default 0.999)" }),
    eps: t.float({ description: "adam, adamw, rmsprop: denominator term (default 1e-8)" }),
    alpha: t.float({ description: "rmsprop: smoothing constant (default 0.99)" }),
    centered: t.boolean({ description: "rmsprop: centered variant (default false)" }),
    weightDecay: t.float({ description: "Weight decay, ≥ 0 (default 0; adamw 0.01)" }),
  }),
});

const ValidationInput = builder.inputType("ValidationInput", {
  description: "How the run is validated",
  fields: (t) => ({
    fraction: t.float({ description: "Held-out fraction (0 to 0.5) when the dataset has no test split" }),
    everySteps: t.int({ description: "Also evaluate every N steps, ≥ 1 (default: after each epoch only)" }),
  }),
});

export const StartRunInputType = builder.inputType("StartRunInput", {
  description:
    "A run to train: a model, data and its hyperparameters (every field validated before the run exists)",
  fields: (t) => ({
    name: t.string({ description: "Display name (default: model, optimizer, lr and batch size)" }),
    model: t.id({
      required: true,
      description: "A model id (see the models query; the legacy number is accepted)",
    }),
    dataset: t.id({ description: "A registered dataset id (see the datasets query); or give datasetSpec" }),
    datasetSpec: t.field({
      type: JSONScalar,
      description:
        'A dataset spec: a name ("mnist"), the CLI form ("blobs:samples=500,shape=10,classes=2") or an object',
    }),
    optimizer: t.field({ type: OptimizerInput, description: "The optimizer (default SGD, lr 0.01)" }),
    epochs: t.int({ description: "Passes over the training set, ≥ 1 (default 1)" }),
    batchSize: t.int({ required: true, description: "Samples per batch, 1 to the training set size" }),
    seed: t.int({ description: "Seed of initialization, shuffling and dropout (default 0)" }),
    k: t.int({ description: "Steps per session.run and per streamed chunk (1–1000, default 10)" }),
    provider: t.field({ type: ProviderNameEnum, description: "Execution provider (default CPU)" }),
    validation: t.field({ type: ValidationInput, description: "Validation split and cadence" }),
    schedule: t.field({
      type: JSONScalar,
      description:
        'Learning-rate schedule: a kind ("cosine") or an object {"kind":"constant"|"step"|"cosine", stepSize, gamma, tMax, etaMin, warmup: {steps, startFactor}} (default constant); Run.config.schedule shows it typed',
    }),
    tags: t.stringList({ description: "Labels for filtering (runs(filter: {tag}))" }),
    dropout: t.boolean({
      description:
        "false trains with every Dropout layer off (default true): compare example 3 with and without its noise",
    }),
    noise: t.field({ type: NoiseInput, description: "Noise diagnostics settings (default: on)" }),
    earlyStopping: t.field({
      type: EarlyStoppingInput,
      description: "Stop when a watched metric stops improving; null: train every epoch",
    }),
    alerts: t.field({ type: AlertsInput, description: "This run's alert webhooks and plateau rule" }),
  }),
});

/** Drops null/undefined so admission fills its documented defaults. */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

type StartRunArgs = typeof StartRunInputType.$inferInput;

/** The GraphQL input as the run manager's request; src/runs/admission.ts validates all of it. */
function startRequest(input: StartRunArgs): StartRunInput {
  const config = defined({
    optimizer: input.optimizer ? defined({ ...input.optimizer }) : undefined,
    epochs: input.epochs,
    batchSize: input.batchSize,
    seed: input.seed,
    k: input.k,
    provider: input.provider,
    validation: input.validation ? defined({ ...input.validation }) : undefined,
    schedule: input.schedule,
    // dropout rides beside the config (not a runner config field); absent means on.
    dropout: input.dropout === false ? false : undefined,
    noise: input.noise ? noiseConfig(input.noise) : undefined,
  });
  return {
    name: input.name ?? undefined,
    modelId: intId("model", input.model),
    dataset: chooseDataset(input.dataset, input.datasetSpec),
    config,
    tags: input.tags ?? undefined,
    earlyStopping: input.earlyStopping ? watchRequest(input.earlyStopping) : undefined,
    alerts: input.alerts
      ? {
          urls: input.alerts.urls ?? [],
          plateau: input.alerts.plateau ? watchRequest(input.alerts.plateau) : undefined,
        }
      : undefined,
  };
}

builder.mutationField("startRun", (t) =>
  t.field({
    type: RunType,
    description: "Validates the input, creates the run QUEUED and enqueues it",
    errors: { types: [ValidationError, NotFoundError], directResult: true },
    args: { input: t.arg({ type: StartRunInputType, required: true, description: "The run" }) },
    resolve: (_root, { input }, ctx) => ctx.runs.start(startRequest(input)),
  }),
);
