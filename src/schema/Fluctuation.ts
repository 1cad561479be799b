// Fluctuation: rolling mean/std/CV of batch loss and accuracy and their correlation (src/stats).
import type { FluctuationPoint, FluctuationSummary, WindowStats } from "../stats/fluctuation.ts";
import { builder } from "./builder.ts";

export const WindowStatsType = builder.objectRef<WindowStats>("WindowStats").implement({
  fields: (t) => ({
    mean: t.exposeFloat("mean"),
    std: t.exposeFloat("std", { description: "Population standard deviation over the window" }),
    cv: t.exposeFloat("cv", { nullable: true, description: "std / |mean|; null when mean is 0" }),
  }),
});

export const FluctuationPointType = builder.objectRef<FluctuationPoint>("FluctuationPoint").implement({
  fields: (t) => ({
    step: t.exposeInt("step", { description: "Last step of the window" }),
    loss: t.field({ type: WindowStatsType, resolve: (p) => p.loss }),
    accuracy: t.field({ type: WindowStatsType, resolve: (p) => p.accuracy }),
    correlation: t.exposeFloat("correlation", {
      nullable: true,
      description: "Pearson correlation of loss and accuracy in the window (null if either is constant)",
    }),
  }),
});

type Overall = FluctuationSummary["overall"];
export const FluctuationOverallType = builder.objectRef<Overall>("FluctuationOverall").implement({
  fields: (t) => ({
    batches: t.exposeInt("batches"),
    loss: t.field({ type: WindowStatsType, resolve: (o) => o.loss }),
    accuracy: t.field({ type: WindowStatsType, resolve: (o) => o.accuracy }),
    correlation: t.exposeFloat("correlation", { nullable: true }),
  }),
});

export const FluctuationType = builder.objectRef<FluctuationSummary>("Fluctuation").implement({
  description:
    "Does accuracy hold while the loss fluctuates? A high loss CV with a low accuracy CV says the model's confidence swings while its right/wrong answers do not.",
  fields: (t) => ({
    window: t.exposeInt("window"),
    points: t.field({ type: [FluctuationPointType], resolve: (f) => f.points }),
    overall: t.field({ type: FluctuationOverallType, resolve: (f) => f.overall }),
  }),
});
