// BatchMetric: one training step's row (persisted before it is published). Trained runs fill every
// metric; an EXTERNAL run's step carries what its trainer logged (the rest null) and its custom metrics.
import type { BatchRow } from "../db/index.ts";
import { builder } from "./builder.ts";

/** One named custom metric value of a step. */
export const CustomValueType = builder
  .objectRef<{ name: string; value: number }>("CustomMetricValue")
  .implement({
    description: "One custom metric's value at a step",
    fields: (t) => ({
      name: t.exposeString("name", { description: "The metric's name, as logged" }),
      value: t.exposeFloat("value", { description: "Its value at the step" }),
    }),
  });

export const BatchMetricType = builder.objectRef<BatchRow>("BatchMetric").implement({
  description:
    "One training step's metrics (batch means); a TRAINED run fills every metric, an EXTERNAL run's step carries what its trainer logged (the rest null)",
  fields: (t) => ({
    step: t.exposeInt("step", { description: "0-based step across the whole run" }),
    epoch: t.exposeInt("epoch", { description: "0-based epoch of the step" }),
    batch: t.exposeInt("batch", { description: "0-based batch index within the epoch" }),
    loss: t.exposeFloat("loss", {
      nullable: true,
      description: "Mean cross-entropy of the batch (nats); null if not logged",
    }),
    accuracy: t.exposeFloat("accuracy", {
      nullable: true,
      description: "Fraction of the batch classified right, 0 to 1; null if not logged",
    }),
    lr: t.exposeFloat("lr", {
      nullable: true,
      description: "Learning rate used for the step; null if not logged",
    }),
    gradNorm: t.exposeFloat("gradNorm", {
      nullable: true,
      description: "L2 norm of the gradient over all parameters; null if not logged",
    }),
    confidence: t.exposeFloat("confidence", {
      nullable: true,
      description: "Mean max softmax probability, 0 to 1; null if not logged",
    }),
    trueClassProb: t.exposeFloat("trueClassProb", {
      nullable: true,
      description: "Mean softmax probability of the true class, 0 to 1; null if not logged",
    }),
    samples: t.exposeInt("samples", {
      description: "Samples in the batch (0 when an EXTERNAL trainer did not say)",
    }),
    timeMs: t.exposeFloat("timeMs", {
      description: "Wall time of the step in milliseconds (0 when not logged)",
    }),
    custom: t.field({
      type: [CustomValueType],
      description: "The step's custom metrics (EXTERNAL runs), sorted by name; `names` picks some",
      args: { names: t.arg.stringList({ description: "Only these metrics (default: all)" }) },
      resolve: (r, args) => {
        const all = Object.entries(r.custom ?? {})
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, value]) => ({ name, value }));
        return args.names ? all.filter((c) => args.names?.includes(c.name)) : all;
      },
    }),
  }),
});
