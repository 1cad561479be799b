// Fluctuation: rolling mean/std/CV of batch loss and accuracy and their correlation (src/stats).
import type { FluctuationPoint, FluctuationSummary, WindowStats } from "../stats/fluctuation.ts";
import { builder } from "./builder.ts";

export const WindowStatsType = builder.objectRef<WindowStats>("WindowStats").implement({
  description: "Mean, spread and coefficient of variation of a metric over a window of batches",
  fields: (t) => ({
    mean: t.exposeFloat("mean", { description: "Mean over the window" }),
    std: t.exposeFloat("std", { description: "Population standard deviation over the window" }),
    cv: t.exposeFloat("cv", { nullable: true, description: "std / |mean|; null when mean is 0" }),
  }),
});

export const FluctuationPointType = builder.objectRef<FluctuationPoint>("FluctuationPoint").implement({
  description: "The rolling statistics of the window that ends at `step`",
  fields: (t) => ({
    step: t.exposeInt("step", { description: "Last step of the window" }),
    loss: t.field({
      type: WindowStatsType,
      description: "Batch loss over the window",
      resolve: (p) => p.loss,
    }),
    accuracy: t.field({
      type: WindowStatsType,
      description: "Batch accuracy over the window",
      resolve: (p) => p.accuracy,
    }),
    correlation: t.exposeFloat("correlation", {
      nullable: true,
      description: "Pearson correlation of loss and accuracy in the window (null if either is constant)",
    }),
  }),
});

type Overall = FluctuationSummary["overall"];
export const FluctuationOverallType = builder.objectRef<Overall>("FluctuationOverall").implement({
  description: "The same statistics over the whole range",
  fields: (t) => ({
    batches: t.exposeInt("batches", { description: "Batches in the range (with both loss and accuracy)" }),
    loss: t.field({
      type: WindowStatsType,
      description: "Batch loss over the range",
      resolve: (o) => o.loss,
    }),
    accuracy: t.field({
      type: WindowStatsType,
      description: "Batch accuracy over the range",
      resolve: (o) => o.accuracy,
    }),
    correlation: t.exposeFloat("correlation", {
      nullable: true,
      description: "Pearson correlation of loss and accuracy over the range (null if either is constant)",
    }),
  }),
});

export const FluctuationType = builder.objectRef<FluctuationSummary>("Fluctuation").implement({
  description:
    "Does accuracy hold while the loss fluctuates? A high loss CV with a low accuracy CV says the model's confidence swings while its right/wrong answers do not.",
  fields: (t) => ({
    window: t.exposeInt("window", { description: "Batches per rolling window" }),
    points: t.field({
      type: [FluctuationPointType],
      description: "One point per window end, at most maxPoints (evenly spaced)",
      resolve: (f) => f.points,
    }),
    overall: t.field({
      type: FluctuationOverallType,
      description: "Over the whole range",
      resolve: (f) => f.overall,
    }),
  }),
});
