// EpochMetric: one epoch's training (and validation) aggregates.
import type { EpochRow } from "../db/index.ts";
import { builder } from "./builder.ts";

export const EpochMetricType = builder.objectRef<EpochRow>("EpochMetric").implement({
  description: "One epoch's training means and validation values",
  fields: (t) => ({
    epoch: t.exposeInt("epoch", { description: "0-based epoch" }),
    trainLoss: t.exposeFloat("trainLoss", { description: "Mean batch loss over the epoch" }),
    trainAccuracy: t.exposeFloat("trainAccuracy", {
      description: "Mean batch accuracy over the epoch, 0 to 1",
    }),
    valLoss: t.exposeFloat("valLoss", {
      nullable: true,
      description: "Validation loss; null without validation",
    }),
    valAccuracy: t.exposeFloat("valAccuracy", {
      nullable: true,
      description: "Validation accuracy, 0 to 1; null without validation",
    }),
    batches: t.exposeInt("batches", { description: "Batches in the epoch" }),
    timeMs: t.exposeFloat("timeMs", { description: "Wall time of the epoch in milliseconds" }),
  }),
});
