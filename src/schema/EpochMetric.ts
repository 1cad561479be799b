// EpochMetric: one epoch's training (and validation) aggregates.
import type { EpochRow } from "../db/index.ts";
import { builder } from "./builder.ts";

export const EpochMetricType = builder.objectRef<EpochRow>("EpochMetric").implement({
  fields: (t) => ({
    epoch: t.exposeInt("epoch"),
    trainLoss: t.exposeFloat("trainLoss"),
    trainAccuracy: t.exposeFloat("trainAccuracy"),
    valLoss: t.exposeFloat("valLoss", { nullable: true }),
    valAccuracy: t.exposeFloat("valAccuracy", { nullable: true }),
    batches: t.exposeInt("batches"),
    timeMs: t.exposeFloat("timeMs"),
  }),
});
