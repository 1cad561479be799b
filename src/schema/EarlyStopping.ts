// Early stopping (StartRunInput.earlyStopping) and what a stopped run reports: stopReason,
// stoppedAtStep, bestStep. The rule lives in src/runs/watch.ts; this file only maps it to GraphQL.
import type { JsonValue } from "../db/index.ts";
import { builder } from "./builder.ts";
import { JSONScalar } from "./scalars.ts";

export const WatchedMetricEnum = builder.enumType("WatchedMetric", {
  description:
    "A metric read at every evaluation point (every validation.everySteps steps and each epoch end)",
  values: {
    VAL_LOSS: { value: "val_loss", description: "Mean cross-entropy on the validation split (nats)" },
    VAL_ACCURACY: { value: "val_accuracy", description: "Accuracy on the validation split (0–1)" },
    TRAIN_LOSS_SMOOTHED: {
      value: "train_loss_smoothed",
      description:
        "The batch losses' debiased exponential moving average (TensorBoard's smoothing) at that step",
    },
  } as const,
});

export const WatchModeEnum = builder.enumType("WatchMode", {
  description: "Which direction of the watched metric is better",
  values: {
    MIN: { value: "min", description: "Lower is better (losses)" },
    MAX: { value: "max", description: "Higher is better (accuracy)" },
  } as const,
});

export const EarlyStoppingInput = builder.inputType("EarlyStoppingInput", {
  description:
    "Stop a run whose watched metric has not improved for `patience` evaluation points; it ends COMPLETED with stopReason and stoppedAtStep, and its export uses the best checkpoint",
  fields: (t) => ({
    metric: t.field({ type: WatchedMetricEnum, required: true, description: "The metric to watch" }),
    mode: t.field({
      type: WatchModeEnum,
      description: "MIN or MAX; default MAX for VAL_ACCURACY, MIN otherwise",
    }),
    patience: t.int({
      description: "Evaluation points without improvement before stopping (1–100000, default 3)",
    }),
    minDelta: t.float({
      description: "The least change that counts as an improvement, in the metric's units (≥ 0, default 0)",
    }),
    smoothing: t.float({
      description: "TRAIN_LOSS_SMOOTHED: the moving average's smoothing, 0 ≤ s < 1 (default 0.9)",
    }),
  }),
});

/** GraphQL's enum values are already the stored lowercase ones; drops unset fields. */
export function watchRequest(input: typeof EarlyStoppingInput.$inferInput): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined));
}

builder.prismaObjectFields("Run", (t) => ({
  earlyStopping: t.field({
    type: JSONScalar,
    nullable: true,
    description:
      "The early-stopping settings as admitted ({metric, mode, patience, minDelta, smoothing}); null: none",
    resolve: (r) => r.earlyStopping as JsonValue,
  }),
  stopReason: t.exposeString("stopReason", {
    nullable: true,
    description:
      "Why a COMPLETED run stopped before its last step (early stopping, an ASHA rung); null when it ran to the end",
  }),
  stoppedAtStep: t.exposeInt("stoppedAtStep", {
    nullable: true,
    description: "The last step a stopped run trained (its rows end there); null when it was not stopped",
  }),
  bestStep: t.exposeInt("bestStep", {
    nullable: true,
    description:
      "With early stopping: the step of the best evaluation so far; its checkpoint is kept and exportModel exports it",
  }),
}));
