// Metric: the per-batch quantities history and compareRuns can chart.
import type { Metric } from "../db/index.ts";
import { builder } from "./builder.ts";

export const METRIC_VALUES: Record<string, { value: Metric; description: string }> = {
  LOSS: { value: "loss", description: "Cross-entropy of the batch (confidence-weighted)" },
  ACCURACY: { value: "accuracy", description: "Fraction of the batch classified right" },
  LR: { value: "lr", description: "Learning rate used for the step" },
  GRAD_NORM: { value: "gradNorm", description: "L2 norm of the gradient over all parameters" },
  CONFIDENCE: { value: "confidence", description: "Mean max softmax probability" },
  TRUE_CLASS_PROB: { value: "trueClassProb", description: "Mean softmax probability of the true class" },
};

export const MetricEnum = builder.enumType("Metric", {
  description: "A per-batch metric that history and compareRuns can chart",
  values: METRIC_VALUES,
});
