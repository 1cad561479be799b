// BatchMetric: one training step's row (persisted before it is published).
import type { BatchRow } from "../db/index.ts";
import { builder } from "./builder.ts";

export const BatchMetricType = builder.objectRef<BatchRow>("BatchMetric").implement({
  fields: (t) => ({
    step: t.exposeInt("step", { description: "0-based step across the whole run" }),
    epoch: t.exposeInt("epoch"),
    batch: t.exposeInt("batch", { description: "0-based batch index within the epoch" }),
    loss: t.exposeFloat("loss"),
    accuracy: t.exposeFloat("accuracy"),
    lr: t.exposeFloat("lr"),
    gradNorm: t.exposeFloat("gradNorm"),
    confidence: t.exposeFloat("confidence"),
    trueClassProb: t.exposeFloat("trueClassProb"),
    samples: t.exposeInt("samples"),
    timeMs: t.exposeFloat("timeMs"),
  }),
});
