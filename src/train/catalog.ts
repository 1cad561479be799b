// What the run lifecycle needs to know about models and datasets before training: the built-in model
// files, a model's shape and size, a dataset's split sizes. The file reads for models live here (the
// datasets' in src/train/data/files.ts), so src/runs/ never touches the file system.
import { existsSync, readFileSync } from "node:fs";
import { RunConfigError, trainSamplesOf } from "./config.ts";
import {
  checkInputShape,
  type DatasetSpec,
  formatDatasetSpec,
  knownSize,
  loadDataset,
  parseDatasetSpec,
  validateDatasetSpec,
} from "./data/index.ts";

const MODELS_DIR = new URL("../../models/", import.meta.url);

/** Names of the models shipped in models/*.onnx. */
export const BUILTIN_MODELS = [
  "linear",
  "cnn",
  "mnist-mlp",
  "mnist-cnn",
  "transformer-char",
  "rnn-mnist",
] as const;

export function builtinModelBytes(name: string): Uint8Array {
  if (!(BUILTIN_MODELS as readonly string[]).includes(name)) {
    throw new Error(`unknown built-in model "${name}"; built-in models: ${BUILTIN_MODELS.join(", ")}`);
  }
  return new Uint8Array(readFileSync(new URL(`${name}.onnx`, MODELS_DIR)));
}

/** An ONNX file named by a Model row's `path` (or the CLI's --model). */
export function readModelFile(path: string): Uint8Array {
  if (!existsSync(path)) throw new Error(`model file not found: ${path}`);
  return new Uint8Array(readFileSync(path));
}

export interface DatasetDescription {
  spec: DatasetSpec;
  /** A stable name for the Dataset row: the compact spec plus the validation fraction. */
  name: string;
  shape: number[];
  classes: number;
  trainSize: number;
  valSize: number;
}

/** Any accepted spec form (name, compact string, JSON text, object) → a validated spec. */
export function toDatasetSpec(input: unknown): DatasetSpec {
  return typeof input === "string" ? parseDatasetSpec(input) : validateDatasetSpec(input);
}

/**
 * Split sizes for a spec and validation fraction: from the spec alone when its size is known
 * (synthetic, blobs, mnist), otherwise by loading it (files are read and parsed once).
 */
export function describeDataset(spec: DatasetSpec, fraction: number): DatasetDescription {
  const name = `${formatDatasetSpec(spec)}${fraction > 0 ? ` val=${fraction}` : ""}`;
  const known = knownSize(spec);
  if (known) {
    const trainSize = trainSamplesOf(spec, fraction) ?? known.samples;
    return {
      spec,
      name,
      shape: known.shape,
      classes: known.classes,
      trainSize,
      valSize: known.samples - trainSize,
    };
  }
  const d = loadDataset(spec, { validation: fraction });
  return {
    spec,
    name,
    shape: d.shape,
    classes: d.classes,
    trainSize: d.train.count,
    valSize: d.validation?.count ?? 0,
  };
}

/**
 * Throws a clear error when the data cannot feed the model: its sample shape, its labels per sample
 * (checked where the model's label shape is known, i.e. once compiled), and its class count. One check
 * for admission (before a run is stored) and for the trainer (before it compiles the Loop).
 */
export function checkDataFitsModel(
  data: { shape: number[]; classes: number; labelShape?: number[] },
  model: { inputShape: number[]; classes: number; name?: string; inputName?: string; labelShape?: number[] },
): void {
  const who = model.name ? `model ${model.name}` : "the model";
  checkInputShape(data.shape, [null, ...model.inputShape], model.inputName ?? `${model.name}'s input`);
  const labels = data.labelShape ?? [];
  if (model.labelShape && labels.join("x") !== model.labelShape.join("x")) {
    throw new RunConfigError(
      "dataset",
      `the dataset has ${labels.length ? `[${labels}] labels per sample` : "one label per sample"} but the model's logits are [batch, ${[...model.labelShape, model.classes].join(", ")}]; use a model whose logits have one class axis per label (e.g. [batch, T, vocabulary] for text:seqLen=T)`,
    );
  }
  if (data.classes > model.classes) {
    throw new RunConfigError(
      "dataset",
      `the dataset has ${data.classes} classes but ${who} outputs ${model.classes} logits; use a model with at least ${data.classes} outputs`,
    );
  }
}
