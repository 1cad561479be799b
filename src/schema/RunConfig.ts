// RunConfig: a TRAINED run's validated configuration as typed objects (optimizer, schedule,
// validation), read from the stored hyperparameters JSON; Run.hyperparameters keeps the raw object.
import type { JsonValue } from "../db/index.ts";
import { builder } from "./builder.ts";
import { ProviderNameEnum } from "./ExecutionProvider.ts";
import { OptimizerKindEnum } from "./OptimizerKind.ts";
import { PositiveIntScalar } from "./scalars.ts";

type Obj = { [key: string]: JsonValue };

const obj = (v: JsonValue | undefined): Obj =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
/** A stored hyperparameters value as the object RunConfig reads; null when it is not an object. */
export function configObject(v: unknown): Obj | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : null;
}
const num = (o: Obj, k: string): number | null => (typeof o[k] === "number" ? (o[k] as number) : null);
const bool = (o: Obj, k: string): boolean | null => (typeof o[k] === "boolean" ? (o[k] as boolean) : null);
const str = (o: Obj, k: string): string => (typeof o[k] === "string" ? (o[k] as string) : "");

const OptimizerConfigType = builder.objectRef<Obj>("OptimizerConfig").implement({
  description:
    "The optimizer with every default filled in (torch.optim semantics); a field null does not apply to this kind",
  fields: (t) => ({
    kind: t.field({
      type: OptimizerKindEnum,
      description: "Which optimizer",
      resolve: (o) => str(o, "kind") as "sgd" | "adam" | "adamw" | "rmsprop",
    }),
    lr: t.float({
      description: "Base learning rate (before any schedule)",
      resolve: (o) => num(o, "lr") ?? 0,
    }),
    weightDecay: t.float({
      description: "Weight decay (L2 for sgd/adam/rmsprop, decoupled for adamw)",
      resolve: (o) => num(o, "weightDecay") ?? 0,
    }),
    momentum: t.float({
      nullable: true,
      description: "sgd, rmsprop: momentum factor",
      resolve: (o) => num(o, "momentum"),
    }),
    dampening: t.float({
      nullable: true,
      description: "sgd: dampening of momentum",
      resolve: (o) => num(o, "dampening"),
    }),
    nesterov: t.boolean({
      nullable: true,
      description: "sgd: Nesterov momentum",
      resolve: (o) => bool(o, "nesterov"),
    }),
    beta1: t.float({
      nullable: true,
      description: "adam, adamw: first-moment decay",
      resolve: (o) => num(o, "beta1"),
    }),
    beta2: t.float({
      nullable: true,
      description: "adam, adamw: second-moment decay",
      resolve: (o) => num(o, "beta2"),
    }),
    eps: t.float({
      nullable: true,
      description: "adam, adamw, rmsprop: denominator term",
      resolve: (o) => num(o, "eps"),
    }),
    alpha: t.float({
      nullable: true,
      description: "rmsprop: smoothing constant",
      resolve: (o) => num(o, "alpha"),
    }),
    centered: t.boolean({
      nullable: true,
      description: "rmsprop: centered variant",
      resolve: (o) => bool(o, "centered"),
    }),
  }),
});

const WarmupConfigType = builder.objectRef<Obj>("WarmupConfig").implement({
  description: "Linear warmup before the main schedule: lr = base · (s + (1 − s) · step / steps)",
  fields: (t) => ({
    steps: t.int({ description: "Warmup length in steps", resolve: (o) => num(o, "steps") ?? 0 }),
    startFactor: t.float({
      description: "s: multiplier of the base rate at step 0, in [0, 1]",
      resolve: (o) => num(o, "startFactor") ?? 0,
    }),
  }),
});

const ScheduleKindEnum = builder.enumType("ScheduleKind", {
  description: "Learning-rate schedule family (PyTorch's schedulers with one step per batch)",
  values: {
    CONSTANT: { value: "constant", description: "The base rate throughout" },
    STEP: { value: "step", description: "StepLR: base · gamma^⌊t / stepSize⌋" },
    COSINE: { value: "cosine", description: "CosineAnnealingLR down to etaMin over tMax steps, then etaMin" },
  } as const,
});

const ScheduleConfigType = builder.objectRef<Obj>("ScheduleConfig").implement({
  description: "The learning-rate schedule; a field null does not apply to this kind",
  fields: (t) => ({
    kind: t.field({
      type: ScheduleKindEnum,
      description: "Which schedule",
      resolve: (o) => (str(o, "kind") || "constant") as "constant",
    }),
    stepSize: t.int({
      nullable: true,
      description: "STEP: steps between decays",
      resolve: (o) => num(o, "stepSize"),
    }),
    gamma: t.float({ nullable: true, description: "STEP: decay factor", resolve: (o) => num(o, "gamma") }),
    tMax: t.int({
      nullable: true,
      description: "COSINE: steps to reach etaMin (null: the steps left after warmup)",
      resolve: (o) => num(o, "tMax"),
    }),
    etaMin: t.float({
      nullable: true,
      description: "COSINE: the final rate",
      resolve: (o) => num(o, "etaMin"),
    }),
    warmup: t.field({
      type: WarmupConfigType,
      nullable: true,
      description: "Linear warmup first; null for none",
      resolve: (o) => (o.warmup ? obj(o.warmup) : null),
    }),
  }),
});

const ValidationConfigType = builder.objectRef<Obj>("ValidationConfig").implement({
  description: "How the run is validated",
  fields: (t) => ({
    fraction: t.float({
      description: "Held-out fraction of the training data (0: the dataset's test split, or none)",
      resolve: (o) => num(o, "fraction") ?? 0,
    }),
    everySteps: t.int({
      nullable: true,
      description: "Also evaluated every this many steps; null: after each epoch only",
      resolve: (o) => num(o, "everySteps"),
    }),
  }),
});

export const RunConfigType = builder.objectRef<Obj>("RunConfig").implement({
  description:
    "A TRAINED run's validated configuration, every default filled in (the typed form of Run.hyperparameters)",
  fields: (t) => ({
    optimizer: t.field({
      type: OptimizerConfigType,
      description: "The optimizer",
      resolve: (c) => obj(c.optimizer),
    }),
    schedule: t.field({
      type: ScheduleConfigType,
      description: "The learning-rate schedule",
      resolve: (c) => obj(c.schedule),
    }),
    validation: t.field({
      type: ValidationConfigType,
      description: "The validation split and cadence",
      resolve: (c) => obj(c.validation),
    }),
    epochs: t.field({
      type: PositiveIntScalar,
      description: "Passes over the training set",
      resolve: (c) => num(c, "epochs") ?? 1,
    }),
    batchSize: t.field({
      type: PositiveIntScalar,
      description: "Samples per batch",
      resolve: (c) => num(c, "batchSize") ?? 1,
    }),
    k: t.field({
      type: PositiveIntScalar,
      description: "Steps per session.run and per streamed chunk",
      resolve: (c) => num(c, "k") ?? 1,
    }),
    seed: t.int({
      description: "Seed of initialization, shuffling and dropout",
      resolve: (c) => num(c, "seed") ?? 0,
    }),
    loss: t.string({ description: 'The loss ("cross_entropy")', resolve: (c) => str(c, "loss") }),
    provider: t.field({
      type: ProviderNameEnum,
      description: "The execution provider requested",
      resolve: (c) => (str(c, "provider") || "CPU") as "CPU",
    }),
    dropout: t.boolean({
      description: "false when every Dropout layer is off",
      resolve: (c) => c.dropout !== false,
    }),
  }),
});
