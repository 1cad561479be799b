// Run-configuration validation (pure): turns untrusted input (GraphQL, CLI, JSON) into a normalized
// RunConfig with every default filled in, or throws a RunConfigError naming the field, the bad value
// and what is accepted. Nothing here touches the file system or onnxruntime.
import { ValidationError } from "../errors.ts";
import {
  type DatasetSpec,
  hasTestFiles,
  knownSize,
  parseDatasetSpec,
  validateDatasetSpec,
} from "./data/spec.ts";
import { type NoiseConfig, validateNoise } from "./noise-config.ts";
import { ScheduleError, type ScheduleSpec, validateSchedule } from "./schedule.ts";

export const OPTIMIZER_KINDS = ["sgd", "adam", "adamw", "rmsprop"] as const;
export type OptimizerKind = (typeof OPTIMIZER_KINDS)[number];
export const LOSS_KINDS = ["cross_entropy"] as const;
export type LossKind = (typeof LOSS_KINDS)[number];
export const PROVIDERS = ["CPU", "CUDA", "WEBGPU"] as const;
export type Provider = (typeof PROVIDERS)[number];

/** torch.optim.SGD: v = μ·v + (1−dampening)·g (+ nesterov), with L2 weight decay added to g. */
export interface SgdConfig {
  kind: "sgd";
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

/** torch.optim.Adam (L2 weight decay added to g) and AdamW (decoupled decay, default 0.01). */
export interface AdamConfig {
  kind: "adam" | "adamw";
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** torch.optim.RMSprop. */
export interface RmspropConfig {
  kind: "rmsprop";
  lr: number;
  alpha: number;
  eps: number;
  momentum: number;
  centered: boolean;
  weightDecay: number;
}

export type OptimizerConfig = SgdConfig | AdamConfig | RmspropConfig;

export interface ValidationConfig {
  /** Fraction of the data held out when the dataset has no test files; 0 = no validation. */
  fraction: number;
  /** Also evaluate every N steps (besides after every epoch); null = only after epochs. */
  everySteps: number | null;
}

export interface RunConfig {
  /** Absent when the caller supplies the data some other way (then pass trainSamples to validate). */
  dataset?: DatasetSpec;
  optimizer: OptimizerConfig;
  epochs: number;
  batchSize: number;
  /** Training steps per session.run (the Loop's trip count). */
  k: number;
  seed: number;
  schedule: ScheduleSpec;
  validation: ValidationConfig;
  loss: LossKind;
  provider: Provider;
  /** Noise diagnostics: absent = on with NOISE_DEFAULTS, false = off (src/train/noise-config.ts). */
  noise?: NoiseConfig | false;
}

/** A bad run configuration value; `field` is its dotted path ("optimizer.lr"). */
export class RunConfigError extends ValidationError {
  override name = "RunConfigError";
}

export const LIMITS = {
  lr: { min: 0, max: 100 },
  epochs: { min: 1, max: 10_000 },
  k: { min: 1, max: 1000 },
  everySteps: { min: 1, max: 1_000_000_000 },
  maxBatchSize: 1_000_000,
} as const;

const DEFAULT_LR: Record<OptimizerKind, number> = { sgd: 0.01, adam: 0.001, adamw: 0.001, rmsprop: 0.01 };

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object" && v !== null) {
    try {
      return JSON.stringify(v);
    } catch {
      return String(v);
    }
  }
  return String(v);
}

function fail(field: string, value: unknown, accepted: string): never {
  throw new RunConfigError(field, `${field} must be ${accepted}, got ${show(value)}`);
}

type Obj = Record<string, unknown>;

function object(v: unknown, field: string, example: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(field, v, `an object like ${example}`);
  return v as Obj;
}

/** `scope` is the field's parent path ("" at the top), `path` how the message names it. */
function noUnknown(o: Obj, path: string, allowed: readonly string[], scope = path): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key) && o[key] !== undefined) {
      throw new RunConfigError(
        scope ? `${scope}.${key}` : key,
        `${path}: unknown field "${key}"; accepted: ${allowed.join(", ")}`,
      );
    }
  }
}

/** A finite number in [min, max] (or (min, max] when minExclusive). */
function num(
  o: Obj,
  key: string,
  path: string,
  dflt: number,
  min: number,
  max: number,
  minExclusive = false,
): number {
  const v = o[key] ?? dflt;
  const ok = typeof v === "number" && Number.isFinite(v) && (minExclusive ? v > min : v >= min) && v <= max;
  if (!ok) {
    fail(`${path}${key}`, o[key], `a finite number ${minExclusive ? ">" : "≥"} ${min} and ≤ ${max}`);
  }
  return v as number;
}

/** A finite number in [min, max). */
function numBelow(o: Obj, key: string, path: string, dflt: number, min: number, max: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v >= max) {
    fail(`${path}${key}`, o[key], `a finite number ≥ ${min} and < ${max}`);
  }
  return v;
}

function int(o: Obj, key: string, path: string, dflt: number | undefined, min: number, max: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(`${path}${key}`, o[key], `an integer between ${min} and ${max}`);
  }
  return v;
}

function bool(o: Obj, key: string, path: string, dflt: boolean): boolean {
  const v = o[key] ?? dflt;
  if (typeof v !== "boolean") fail(`${path}${key}`, o[key], "true or false");
  return v;
}

export function validateOptimizer(input: unknown): OptimizerConfig {
  const o = object(
    typeof input === "string" ? { kind: input } : input,
    "optimizer",
    '{"kind":"sgd","lr":0.01}',
  );
  const kind = o.kind;
  if (typeof kind !== "string" || !(OPTIMIZER_KINDS as readonly string[]).includes(kind)) {
    fail("optimizer.kind", kind, `one of ${OPTIMIZER_KINDS.join(", ")}`);
  }
  const k = kind as OptimizerKind;
  const p = "optimizer.";
  const lr = num(o, "lr", p, DEFAULT_LR[k], LIMITS.lr.min, LIMITS.lr.max, true);
  switch (k) {
    case "sgd": {
      noUnknown(
        o,
        "optimizer (sgd)",
        ["kind", "lr", "momentum", "dampening", "nesterov", "weightDecay"],
        "optimizer",
      );
      const cfg: SgdConfig = {
        kind: k,
        lr,
        momentum: numBelow(o, "momentum", p, 0, 0, 1),
        dampening: num(o, "dampening", p, 0, 0, 1),
        nesterov: bool(o, "nesterov", p, false),
        weightDecay: num(o, "weightDecay", p, 0, 0, 10),
      };
      // Same rule as torch.optim.SGD: Nesterov needs momentum and no dampening.
      if (cfg.nesterov && (cfg.momentum === 0 || cfg.dampening !== 0)) {
        throw new RunConfigError(
          "optimizer.nesterov",
          `optimizer.nesterov requires momentum > 0 and dampening = 0, got momentum ${cfg.momentum} and dampening ${cfg.dampening}`,
        );
      }
      return cfg;
    }
    case "adam":
    case "adamw":
      noUnknown(o, `optimizer (${k})`, ["kind", "lr", "beta1", "beta2", "eps", "weightDecay"], "optimizer");
      return {
        kind: k,
        lr,
        beta1: numBelow(o, "beta1", p, 0.9, 0, 1),
        beta2: numBelow(o, "beta2", p, 0.999, 0, 1),
        eps: num(o, "eps", p, 1e-8, 0, 1, true),
        weightDecay: num(o, "weightDecay", p, k === "adamw" ? 0.01 : 0, 0, 10),
      };
    case "rmsprop":
      noUnknown(
        o,
        "optimizer (rmsprop)",
        ["kind", "lr", "alpha", "eps", "momentum", "centered", "weightDecay"],
        "optimizer",
      );
      return {
        kind: k,
        lr,
        alpha: num(o, "alpha", p, 0.99, 0, 1),
        eps: num(o, "eps", p, 1e-8, 0, 1, true),
        momentum: numBelow(o, "momentum", p, 0, 0, 1),
        centered: bool(o, "centered", p, false),
        weightDecay: num(o, "weightDecay", p, 0, 0, 10),
      };
  }
}

function validateValidation(input: unknown): ValidationConfig {
  if (input === undefined || input === null || input === "none" || input === false) {
    return { fraction: 0, everySteps: null };
  }
  const o = typeof input === "number" ? { fraction: input } : object(input, "validation", '{"fraction":0.1}');
  noUnknown(o, "validation", ["fraction", "everySteps"]);
  const fraction =
    o.fraction === null || o.fraction === "none" ? 0 : num(o, "fraction", "validation.", 0, 0, 0.5);
  const everySteps =
    o.everySteps === undefined || o.everySteps === null
      ? null
      : int(o, "everySteps", "validation.", undefined, LIMITS.everySteps.min, LIMITS.everySteps.max);
  return { fraction, everySteps };
}

function oneOf<T extends string>(o: Obj, key: string, options: readonly T[], dflt: T): T {
  const v = o[key] ?? dflt;
  if (typeof v !== "string" || !(options as readonly string[]).includes(v))
    fail(key, o[key], `one of ${options.join(", ")}`);
  return v as T;
}

/** Training-set size implied by a dataset spec and validation fraction, when known without files. */
export function trainSamplesOf(dataset: DatasetSpec, fraction: number): number | null {
  const size = knownSize(dataset);
  if (!size) return null;
  if (hasTestFiles(dataset) || fraction === 0) return size.samples;
  // Same rounding as loadDataset's split.
  const nVal = Math.round(size.samples * fraction);
  return nVal >= 1 && nVal < size.samples ? size.samples - nVal : size.samples;
}

export interface ValidateOptions {
  /** Training-set size for the batch-size check when the dataset's size is not known from its spec. */
  trainSamples?: number;
}

const RUN_FIELDS = [
  "dataset",
  "optimizer",
  "epochs",
  "batchSize",
  "k",
  "seed",
  "schedule",
  "validation",
  "loss",
  "provider",
  "noise",
];

/** Validates and normalizes a run configuration. */
export function validateRunConfig(input: unknown, options: ValidateOptions = {}): RunConfig {
  const o = object(
    input,
    "run configuration",
    '{"optimizer":{"kind":"sgd","lr":0.01},"epochs":1,"batchSize":10}',
  );
  noUnknown(o, "run configuration", RUN_FIELDS, "");
  let dataset: DatasetSpec | undefined;
  if (o.dataset !== undefined) {
    // A name from DATASETS, the compact CLI form, JSON text, or an object.
    dataset = typeof o.dataset === "string" ? parseDatasetSpec(o.dataset) : validateDatasetSpec(o.dataset);
  }
  const optimizer = validateOptimizer(o.optimizer ?? "sgd");
  const epochs = int(o, "epochs", "", 1, LIMITS.epochs.min, LIMITS.epochs.max);
  const validation = validateValidation(o.validation);
  const trainSamples =
    options.trainSamples ?? (dataset ? trainSamplesOf(dataset, validation.fraction) : null);
  const maxBatch = trainSamples ?? LIMITS.maxBatchSize;
  const batchSize = o.batchSize;
  if (
    typeof batchSize !== "number" ||
    !Number.isInteger(batchSize) ||
    batchSize < 1 ||
    batchSize > maxBatch
  ) {
    const range =
      trainSamples === null
        ? `an integer between 1 and ${LIMITS.maxBatchSize}`
        : `an integer between 1 and the training set size ${trainSamples}`;
    fail("batchSize", batchSize, range);
  }
  const k = int(o, "k", "", 10, LIMITS.k.min, LIMITS.k.max);
  const seed = o.seed ?? 0;
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) fail("seed", o.seed, "an integer");
  let schedule: ScheduleSpec;
  try {
    schedule = validateSchedule(o.schedule);
  } catch (e) {
    if (e instanceof ScheduleError) throw new RunConfigError(e.field, e.message);
    throw e;
  }
  const cfg: RunConfig = {
    optimizer,
    epochs,
    batchSize,
    k,
    seed,
    schedule,
    validation,
    loss: oneOf(o, "loss", LOSS_KINDS, "cross_entropy"),
    provider: oneOf(o, "provider", PROVIDERS, "CPU"),
  };
  if (o.noise !== undefined) cfg.noise = validateNoise(o.noise);
  return dataset ? { dataset, ...cfg } : cfg;
}

/** A named experiment: a built-in model (models/<model>.onnx) and one or more runs to compare. */
export interface Experiment {
  name: string;
  description: string;
  model: string;
  runs: RunConfig[];
  /** The learnable twin of a random-data reference experiment, or the experiment a twin mirrors. */
  twin: string;
  reference: boolean;
}

function experiment(
  name: string,
  description: string,
  model: string,
  twin: string,
  reference: boolean,
  runs: unknown[],
): Experiment {
  return { name, description, model, twin, reference, runs: runs.map((r) => validateRunConfig(r)) };
}

const sgd001 = { kind: "sgd", lr: 0.01 };
const adam0001 = { kind: "adam", lr: 0.001 };

/** The three reference experiments (linear, batch-size, cnn-dropout) and their learnable twins. */
export const EXPERIMENTS: Record<string, Experiment> = Object.fromEntries(
  [
    experiment(
      "linear",
      "Linear(10,2) on 100 × 10 Gaussian features with 2 random classes; SGD lr 0.01, batch 10, 10 epochs",
      "linear",
      "linear-blobs",
      true,
      [{ dataset: "linear", optimizer: sgd001, batchSize: 10, epochs: 10 }],
    ),
    experiment(
      "batch-size",
      "Linear(10,2) on 1,000 × 10 random features, batch 10 vs batch 100; SGD lr 0.01, 1 epoch each",
      "linear",
      "batch-size-blobs",
      true,
      [10, 100].map((batchSize) => ({ dataset: "batch-size", optimizer: sgd001, batchSize, epochs: 1 })),
    ),
    experiment(
      "cnn-dropout",
      "Two-conv CNN with Dropout(0.5) on 1,000 random 3×32×32 images, 10 classes; Adam lr 0.001, batch 32, 2 epochs",
      "cnn",
      "cnn-mnist",
      true,
      [{ dataset: "cnn-dropout", optimizer: adam0001, batchSize: 32, epochs: 2 }],
    ),
    experiment(
      "linear-blobs",
      "The linear experiment on 2 separable Gaussian blobs (20% held out): accuracy rises to ~100%",
      "linear",
      "linear",
      false,
      [
        {
          dataset: "linear-blobs",
          optimizer: sgd001,
          batchSize: 10,
          epochs: 10,
          validation: { fraction: 0.2 },
        },
      ],
    ),
    experiment(
      "batch-size-blobs",
      "The batch-size comparison on 2 Gaussian blobs (20% held out): bs 10 takes 10× more steps than bs 100",
      "linear",
      "batch-size",
      false,
      [10, 100].map((batchSize) => ({
        dataset: "batch-size-blobs",
        optimizer: sgd001,
        batchSize,
        epochs: 1,
        validation: { fraction: 0.2 },
      })),
    ),
    experiment(
      "cnn-mnist",
      "A small CNN with Dropout(0.5) on the mnist package's 10,000 digits (10% held out); Adam lr 0.001, batch 32, 2 epochs",
      "mnist-cnn",
      "cnn-dropout",
      false,
      [{ dataset: "mnist", optimizer: adam0001, batchSize: 32, epochs: 2, validation: { fraction: 0.1 } }],
    ),
    experiment(
      "mnist-mlp",
      "An MLP 784-128-10 on the mnist package's digits (10% held out); Adam lr 0.001, batch 32, 3 epochs",
      "mnist-mlp",
      "cnn-dropout",
      false,
      [{ dataset: "mnist", optimizer: adam0001, batchSize: 32, epochs: 3, validation: { fraction: 0.1 } }],
    ),
  ].map((e) => [e.name, e]),
);
