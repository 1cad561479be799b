// Run admission: the one place a start request (GraphQL startRun, startExperiment, a sweep point, a
// test) is validated. It either returns the normalized run, ready to insert, or throws a typed error
// (src/errors.ts) naming the field: nothing is written before every check passed. The checks run
// cheapest first, so a bad hyperparameter is refused before a dataset file is read.
import type { DatasetInput, Db, JsonObject, ModelInfo, RunInput } from "../db/index.ts";
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import { describeOffThread } from "../models/compile-thread.ts";
import {
  checkDataFitsModel,
  type DatasetDescription,
  describeDataset,
  toDatasetSpec,
} from "../train/catalog.ts";
import { type RunConfig, RunConfigError, validateRunConfig } from "../train/config.ts";
import { apiDatasetSpec } from "../train/data/files.ts";
import { type DatasetSpec, knownSize, planBatches } from "../train/data/index.ts";
import { requireProvider } from "../train/providers.ts";
import { validateRunAlerts } from "./alerts.ts";
import type { StartRunInput } from "./types.ts";
import { validateWatch } from "./watch.ts";

export interface AdmissionLimits {
  /** MAX_BATCH_ELEMENTS: batchSize × input elements per sample (memory). */
  maxBatchElements: number;
  /**
   * DATA_DIR roots: when set (requests from API callers), every file a dataset spec names must resolve
   * inside one of them (src/train/data/files.ts). Unset for the local CLI and in-process callers.
   */
  dataDirs?: readonly string[];
  /** ALERT_ALLOWED_HOSTS: internal hosts a run's alert webhook URLs may name (src/runs/alerts.ts). */
  alertAllowedHosts?: readonly string[];
}

/** A request that passed every check: the Run row to insert and the Dataset row it needs. */
export interface AdmittedRun {
  model: ModelInfo;
  config: RunConfig;
  /** The Dataset row of this spec and validation fraction, found or created by its name on start. */
  dataset: DatasetInput;
  run: Omit<RunInput, "datasetId">;
}

const MAX_TAGS = 32;

/** Exactly one of a registered dataset id or a spec, as startRun and startSweep take them. */
export function chooseDataset(
  id: string | number | null | undefined,
  spec: unknown,
): StartRunInput["dataset"] {
  if ((id == null) === (spec == null))
    throw new ValidationError(
      "dataset",
      "give exactly one of dataset (a registered dataset id) or datasetSpec",
    );
  return id != null ? { id: intId("dataset", id) } : { spec };
}

function checkNameAndTags(name: string | undefined, tags: string[]): void {
  for (const tag of tags) {
    if (tag.length < 1 || tag.length > 64)
      throw new ValidationError(
        "tags",
        `each tag must be 1–64 characters, got ${JSON.stringify(tag.slice(0, 80))}`,
      );
  }
  if (tags.length > MAX_TAGS)
    throw new ValidationError("tags", `at most ${MAX_TAGS} tags, got ${tags.length}`);
  if (name !== undefined && (name.length < 1 || name.length > 200))
    throw new ValidationError("name", "name must be 1–200 characters");
}

/** The config object, split from the `dropout` flag that rides beside it (not a runner config field). */
function splitConfig(config: unknown): { config: Record<string, unknown>; dropout: boolean } {
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new RunConfigError(
      "config",
      `config must be an object like {"optimizer":{"kind":"sgd","lr":0.01},"batchSize":10}`,
    );
  const { dropout, ...rest } = config as Record<string, unknown>;
  if (dropout !== undefined && typeof dropout !== "boolean")
    throw new RunConfigError("dropout", `dropout must be true or false, got ${JSON.stringify(dropout)}`);
  if (rest.dataset !== undefined)
    throw new RunConfigError(
      "config.dataset",
      "config.dataset is not accepted here: pass the dataset as input.dataset",
    );
  return { config: rest, dropout: dropout !== false };
}

async function resolveSpec(
  db: Db,
  dataset: StartRunInput["dataset"],
  dataDirs: readonly string[] | undefined,
): Promise<DatasetSpec> {
  const parse = (raw: unknown) => (dataDirs ? apiDatasetSpec(raw, dataDirs) : toDatasetSpec(raw));
  if ("id" in dataset) {
    const row = await db.getDataset(intId("dataset", dataset.id));
    if (!row) throw new NotFoundError("dataset", String(dataset.id));
    return parse(row.parameters);
  }
  try {
    return parse(dataset.spec);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError("datasetSpec", err.message);
    throw err;
  }
}

/** Shape, classes and memory checks that need no file read (the spec tells its size). */
function checkKnownFit(
  model: ModelInfo,
  spec: DatasetSpec,
  batchSize: unknown,
  limits: AdmissionLimits,
): void {
  const size = knownSize(spec);
  const shape = model.inputShape as number[];
  if (size && size.shape.join("x") !== shape.join("x"))
    throw new ValidationError(
      "dataset",
      `model "${model.name}" takes inputs of shape [${shape}] but the dataset's samples have shape [${size.shape}]`,
    );
  if (typeof batchSize === "number") {
    const elements = batchSize * shape.reduce((a, b) => a * b, 1);
    if (elements > limits.maxBatchElements)
      throw new ValidationError(
        "batchSize",
        `batchSize ${batchSize} × input size ${shape.join("×")} = ${elements} elements; the limit is ${limits.maxBatchElements} (MAX_BATCH_ELEMENTS): use a smaller batch`,
      );
  }
  if (size && size.classes > model.classes)
    throw new ValidationError(
      "dataset",
      `the dataset has ${size.classes} classes but model "${model.name}" outputs ${model.classes}`,
    );
}

/** Validates a start request once, fully; throws NotFoundError / ValidationError (with its field). */
export async function admitRun(db: Db, limits: AdmissionLimits, input: StartRunInput): Promise<AdmittedRun> {
  const model = await db.getModel(intId("model", input.modelId));
  if (!model) throw new NotFoundError("model", String(input.modelId));
  const { config, dropout } = splitConfig(input.config);
  const spec = await resolveSpec(db, input.dataset, limits.dataDirs);
  checkKnownFit(model, spec, config.batchSize, limits);
  const cfg = validateRunConfig({ ...config, dataset: spec });
  const tags = input.tags ?? [];
  checkNameAndTags(input.name, tags);
  const earlyStopping =
    input.earlyStopping == null ? null : validateWatch(input.earlyStopping, "earlyStopping");
  const alerts = validateRunAlerts(input.alerts, limits.alertAllowedHosts ?? []);
  await requireProvider(cfg.provider);
  let described: DatasetDescription;
  try {
    // A spec that tells its size is described here; file-backed datasets are read and parsed in the
    // compile thread (their shape and size are known only then), off the event loop.
    described = knownSize(spec)
      ? describeDataset(spec, cfg.validation.fraction)
      : await describeOffThread(spec, cfg.validation.fraction);
    checkDataFitsModel(described, {
      name: model.name,
      inputShape: model.inputShape as number[],
      classes: model.classes,
    });
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new RunConfigError("dataset", err instanceof Error ? err.message : String(err));
  }
  // Batch size against the real training-set size (files whose size the spec does not tell).
  validateRunConfig({ ...config, dataset: spec }, { trainSamples: described.trainSize });
  for (const [field, w] of [
    ["earlyStopping", earlyStopping],
    ["alerts.plateau", alerts?.plateau],
  ] as const)
    if (w && w.metric !== "train_loss_smoothed" && described.valSize === 0)
      throw new ValidationError(
        `${field}.metric`,
        `${field}.metric ${w.metric} needs a validation split: set validation.fraction (e.g. 0.1) or watch train_loss_smoothed`,
      );
  const { dataset: _dataset, ...stored } = cfg;
  const hyperparameters = JSON.parse(JSON.stringify(stored)) as JsonObject;
  return {
    model,
    config: cfg,
    dataset: {
      name: described.name,
      kind: spec.kind,
      parameters: JSON.parse(JSON.stringify(spec)) as JsonObject,
      inputShape: described.shape,
      classes: described.classes,
      trainSize: described.trainSize,
      valSize: described.valSize,
    },
    run: {
      name: input.name ?? `${model.name} ${cfg.optimizer.kind} lr ${cfg.optimizer.lr} bs ${cfg.batchSize}`,
      modelId: model.id,
      // dropout: false (a sweep's "dropout off") rides along with the config; absent means on.
      hyperparameters: dropout ? hyperparameters : { ...hyperparameters, dropout: false },
      providerRequested: cfg.provider,
      seed: cfg.seed,
      stepsPerChunk: cfg.k,
      totalSteps: planBatches(described.trainSize, cfg.batchSize, cfg.epochs).totalSteps,
      tags,
      earlyStopping: earlyStopping as unknown as JsonObject | null,
      alerts: alerts as unknown as JsonObject | null,
      sweepId: input.sweepId ?? null,
    },
  };
}

/** Finds or creates the admitted run's Dataset row (by its unique name); resolves with its id. */
export async function datasetIdOf(db: Db, dataset: DatasetInput): Promise<number> {
  const found = await db.findDatasetByName(dataset.name);
  if (found) return found.id;
  try {
    return (await db.createDataset(dataset)).id;
  } catch (err) {
    // Another caller created it meanwhile (unique name).
    const again = await db.findDatasetByName(dataset.name);
    if (again) return again.id;
    throw err;
  }
}
