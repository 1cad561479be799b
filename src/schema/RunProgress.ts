// RunProgress: where a run is (step/total, epoch) and how fast it goes.
import type { RunProgress } from "../runs/types.ts";
import { builder } from "./builder.ts";

export const RunProgressType = builder.objectRef<RunProgress>("RunProgress").implement({
  description: "Where a run is and how fast it goes",
  fields: (t) => ({
    step: t.exposeInt("step", { description: "Steps persisted so far" }),
    totalSteps: t.exposeInt("totalSteps", { description: "Steps the run will take (0: not known)" }),
    fraction: t.float({
      description: "step / totalSteps, 0 to 1 (0 when totalSteps is 0)",
      resolve: (p) => (p.totalSteps > 0 ? Math.min(1, p.step / p.totalSteps) : 0),
    }),
    epoch: t.exposeInt("epoch", { description: "The current 0-based epoch" }),
    samplesPerSecond: t.exposeFloat("samplesPerSecond", {
      nullable: true,
      description: "Recent training throughput; null until measured and after the run ends",
    }),
    etaSeconds: t.exposeFloat("etaSeconds", {
      nullable: true,
      description: "Estimated seconds to the end; null when unknown",
    }),
  }),
});
