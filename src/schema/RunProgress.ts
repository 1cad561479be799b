// RunProgress: where a run is (step/total, epoch) and how fast it goes.
import type { RunProgress } from "../runs/types.ts";
import { builder } from "./builder.ts";

export const RunProgressType = builder.objectRef<RunProgress>("RunProgress").implement({
  fields: (t) => ({
    step: t.exposeInt("step", { description: "Steps persisted so far" }),
    totalSteps: t.exposeInt("totalSteps"),
    fraction: t.float({ resolve: (p) => (p.totalSteps > 0 ? Math.min(1, p.step / p.totalSteps) : 0) }),
    epoch: t.exposeInt("epoch"),
    samplesPerSecond: t.exposeFloat("samplesPerSecond", { nullable: true }),
    etaSeconds: t.exposeFloat("etaSeconds", { nullable: true }),
  }),
});
