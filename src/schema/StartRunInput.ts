// StartRunInput and the startRun mutation: every field is validated (src/train/config.ts) before a
// run exists, and an error names the field and what is accepted.
import type { JsonObject } from "../db/index.ts";
import type { StartRunInput } from "../runs/types.ts";
import { OPTIMIZER_KINDS, RunConfigError, validateRunConfig } from "../train/config.ts";
import { apiDatasetSpec } from "../train/data/files.ts";
import { type DatasetSpec, knownSize } from "../train/data/spec.ts";
import { builder } from "./builder.ts";
import { ProviderNameEnum } from "./ExecutionProvider.ts";
import { intId, NotFoundError, ValidationError } from "./errors.ts";
import { RunType } from "./Run.ts";
import { fieldOf, managed } from "./resolve-helpers.ts";
import { JSONScalar } from "./scalars.ts";
import { intList } from "./shapes.ts";

const OptimizerKindEnum = builder.enumType("OptimizerKind", {
  values: Object.fromEntries(OPTIMIZER_KINDS.map((k) => [k.toUpperCase(), { value: k }])),
});

const OptimizerInput = builder.inputType("OptimizerInput", {
  description: "torch.optim semantics; unset fields take PyTorch's defaults",
  fields: (t) => ({
    kind: t.field({ type: OptimizerKindEnum, required: true }),
    lr: t.float(),
    momentum: t.float({ description: "sgd, rmsprop" }),
    dampening: t.float({ description: "sgd" }),
    nesterov: t.boolean({ description: "sgd" }),
    beta1: t.float({ description: "adam, adamw" }),
    beta2: t.float({ description: "adam, adamw" }),
    eps: t.float({ description: "adam, adamw, rmsprop" }),
    alpha: t.float({ description: "rmsprop" }),
    centered: t.boolean({ description: "rmsprop" }),
    weightDecay: t.float(),
  }),
});

const ValidationInput = builder.inputType("ValidationInput", {
  fields: (t) => ({
    fraction: t.float({ description: "Held-out fraction (0 to 0.5) when the dataset has no test split" }),
    everySteps: t.int({ description: "Also evaluate every N steps" }),
  }),
});

export const StartRunInputType = builder.inputType("StartRunInput", {
  fields: (t) => ({
    name: t.string(),
    model: t.id({ required: true, description: "A model id (see the models query)" }),
    dataset: t.id({ description: "A registered dataset id (see the datasets query); or give datasetSpec" }),
    datasetSpec: t.field({
      type: JSONScalar,
      description:
        'A dataset spec: a name ("mnist"), the CLI form ("blobs:samples=500,shape=10,classes=2") or an object',
    }),
    optimizer: t.field({ type: OptimizerInput }),
    epochs: t.int(),
    batchSize: t.int({ required: true }),
    seed: t.int(),
    k: t.int({ description: "Steps per session.run and per streamed chunk (1–1000, default 10)" }),
    provider: t.field({ type: ProviderNameEnum }),
    validation: t.field({ type: ValidationInput }),
    schedule: t.field({ type: JSONScalar, description: "Learning-rate schedule (src/train/schedule.ts)" }),
    tags: t.stringList(),
    dropout: t.boolean({
      description:
        "false trains with every Dropout layer off (default true): compare example 3 with and without its noise",
    }),
  }),
});

/** Drops null/undefined so validateRunConfig fills its documented defaults. */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

/** A caller's (or a stored row's) spec, validated and with its files confined to DATA_DIR. */
export function specFrom(raw: unknown, dataDirs: readonly string[]): DatasetSpec {
  try {
    return apiDatasetSpec(raw, dataDirs);
  } catch (err) {
    throw new ValidationError("datasetSpec", err instanceof Error ? err.message : String(err));
  }
}

builder.mutationField("startRun", (t) =>
  t.field({
    type: RunType,
    description: "Validates the input, creates the run QUEUED and enqueues it",
    errors: { types: [ValidationError, NotFoundError], directResult: true },
    args: { input: t.arg({ type: StartRunInputType, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const model = await ctx.db.getModel(intId("model", input.model));
      if (!model) throw new NotFoundError("model", String(input.model));
      if ((input.dataset == null) === (input.datasetSpec == null)) {
        throw new ValidationError(
          "dataset",
          "give exactly one of dataset (a registered dataset id) or datasetSpec",
        );
      }
      let spec: DatasetSpec;
      let dataset: StartRunInput["dataset"];
      if (input.dataset != null) {
        const row = await ctx.db.getDataset(intId("dataset", input.dataset));
        if (!row) throw new NotFoundError("dataset", String(input.dataset));
        spec = specFrom(row.parameters, ctx.config.dataDirs);
        dataset = { id: row.id };
      } else {
        spec = specFrom(input.datasetSpec, ctx.config.dataDirs);
        dataset = { spec };
      }
      const size = knownSize(spec);
      const modelShape = intList(model.inputShape);
      if (size && size.shape.join("x") !== modelShape.join("x")) {
        throw new ValidationError(
          "dataset",
          `model "${model.name}" takes inputs of shape [${modelShape}] but the dataset's samples have shape [${size.shape}]`,
        );
      }
      const batchElements = input.batchSize * modelShape.reduce((a, b) => a * b, 1);
      if (batchElements > ctx.config.limits.maxBatchElements) {
        throw new ValidationError(
          "batchSize",
          `batchSize ${input.batchSize} × input size ${modelShape.join("×")} = ${batchElements} elements; the limit is ${ctx.config.limits.maxBatchElements} (MAX_BATCH_ELEMENTS): use a smaller batch`,
        );
      }
      if (size && size.classes > model.classes) {
        throw new ValidationError(
          "dataset",
          `the dataset has ${size.classes} classes but model "${model.name}" outputs ${model.classes}`,
        );
      }
      const config = defined({
        optimizer: input.optimizer ? defined({ ...input.optimizer }) : undefined,
        epochs: input.epochs,
        batchSize: input.batchSize,
        seed: input.seed,
        k: input.k,
        provider: input.provider,
        validation: input.validation ? defined({ ...input.validation }) : undefined,
        schedule: input.schedule,
      });
      try {
        validateRunConfig({ ...config, dataset: spec });
      } catch (err) {
        if (err instanceof RunConfigError)
          throw new ValidationError(fieldOf(err.message, "input"), err.message);
        throw err;
      }
      const tags = input.tags ?? [];
      for (const tag of tags) {
        if (tag.length < 1 || tag.length > 64) {
          throw new ValidationError(
            "tags",
            `each tag must be 1–64 characters, got ${JSON.stringify(tag.slice(0, 80))}`,
          );
        }
      }
      if (tags.length > 32) throw new ValidationError("tags", `at most 32 tags, got ${tags.length}`);
      if (input.name != null && (input.name.length < 1 || input.name.length > 200)) {
        throw new ValidationError("name", "name must be 1–200 characters");
      }
      return managed("", "input", () =>
        ctx.runs.start({
          name: input.name ?? undefined,
          modelId: model.id,
          dataset,
          // The run manager carries dropout beside the validated config (not a runner config field).
          config: (input.dropout === false ? { ...config, dropout: false } : config) as JsonObject,
          tags,
        }),
      );
    },
  }),
);
