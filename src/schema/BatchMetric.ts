// BatchMetric: one training step's row (persisted before it is published). Trained runs fill every
// metric; an EXTERNAL run's step carries what its trainer logged (the rest null) and its custom metrics.
import type { BatchRow } from "../db/index.ts";
import { builder } from "./builder.ts";

/** One named custom metric value of a step. */
export const CustomValueType = builder
  .objectRef<{ name: string; value: number }>("CustomMetricValue")
  .implement({ fields: (t) => ({ name: t.exposeString("name"), value: t.exposeFloat("value") }) });

export const BatchMetricType = builder.objectRef<BatchRow>("BatchMetric").implement({
  fields: (t) => ({
    step: t.exposeInt("step", { description: "0-based step across the whole run" }),
    epoch: t.exposeInt("epoch"),
    batch: t.exposeInt("batch", { description: "0-based batch index within the epoch" }),
    loss: t.exposeFloat("loss", { nullable: true }),
    accuracy: t.exposeFloat("accuracy", { nullable: true }),
    lr: t.exposeFloat("lr", { nullable: true }),
    gradNorm: t.exposeFloat("gradNorm", { nullable: true }),
    confidence: t.exposeFloat("confidence", { nullable: true }),
    trueClassProb: t.exposeFloat("trueClassProb", { nullable: true }),
    samples: t.exposeInt("samples"),
    timeMs: t.exposeFloat("timeMs"),
    custom: t.field({
      type: [CustomValueType],
      description: "The step's custom metrics (EXTERNAL runs), sorted by name; `names` picks some",
      args: { names: t.arg.stringList() },
      resolve: (r, args) => {
        const all = Object.entries(r.custom ?? {})
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, value]) => ({ name, value }));
        return args.names ? all.filter((c) => args.names?.includes(c.name)) : all;
      },
    }),
  }),
});
