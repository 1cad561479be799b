// ValidationMetric: one evaluation on the validation split (every validation.everySteps steps and at
// each epoch end), listed by Run.validationMetrics and streamed as RunValidationEvent on runEvents.
import type { ValidationRow } from "../db/learning.ts";
import { validationMetrics } from "../db/learning.ts";
import { globalId } from "../errors.ts";
import { builder } from "./builder.ts";

export const ValidationMetricType = builder.objectRef<ValidationRow>("ValidationMetric").implement({
  description: "One evaluation of the model on the validation split",
  fields: (t) => ({
    step: t.exposeInt("step", { description: "The last training step before the evaluation (0-based)" }),
    epoch: t.exposeInt("epoch", { description: "The epoch that step belongs to (0-based)" }),
    loss: t.exposeFloat("loss", { description: "Mean cross-entropy over the validation split (nats)" }),
    accuracy: t.exposeFloat("accuracy", { description: "Accuracy over the validation split (0–1)" }),
    samples: t.exposeInt("samples", { description: "Validation samples evaluated" }),
  }),
});

export const RunValidationEventType = builder
  .objectRef<{ kind: "validation"; runId: number; validation: ValidationRow }>("RunValidationEvent")
  .implement({
    description: "An evaluation was stored (every validation.everySteps steps and at each epoch end)",
    fields: (t) => ({
      runId: t.id({ description: "The run evaluated", resolve: (e) => globalId("run", e.runId) }),
      validation: t.field({
        type: ValidationMetricType,
        description: "The evaluation's results",
        resolve: (e) => e.validation,
      }),
    }),
  });

builder.prismaObjectField("Run", "validationMetrics", (t) =>
  t.field({
    type: [ValidationMetricType],
    description:
      "Every evaluation of the run in step order: each epoch end and every validation.everySteps steps (empty without a validation split)",
    args: {
      afterStep: t.arg.int({ description: "Only evaluations after this step (default −1: all)" }),
    },
    resolve: (r, { afterStep }, ctx) => validationMetrics(ctx.db, r.id, afterStep ?? -1),
  }),
);
