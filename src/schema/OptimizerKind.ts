// OptimizerKind: the optimizers a run can train with (StartRunInput, SweepSpaceInput, RunConfig).
import { OPTIMIZER_KINDS } from "../runs/catalog.ts";
import { builder } from "./builder.ts";

const DESCRIPTIONS: Record<(typeof OPTIMIZER_KINDS)[number], string> = {
  sgd: "torch.optim.SGD (momentum, dampening, Nesterov)",
  adam: "torch.optim.Adam (L2 weight decay added to the gradient)",
  adamw: "torch.optim.AdamW (decoupled weight decay, default 0.01)",
  rmsprop: "torch.optim.RMSprop",
};

export const OptimizerKindEnum = builder.enumType("OptimizerKind", {
  description: "An optimizer, with torch.optim semantics",
  values: Object.fromEntries(
    OPTIMIZER_KINDS.map((k) => [k.toUpperCase(), { value: k, description: DESCRIPTIONS[k] }]),
  ),
});
