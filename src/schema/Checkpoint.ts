// Checkpoint: a saved training state (parameters + optimizer state) a run can resume from.
import { builder } from "./builder.ts";

export const CheckpointType = builder.prismaObject("Checkpoint", {
  fields: (t) => ({
    step: t.exposeInt("step", { description: "The last step the state includes" }),
    epoch: t.exposeInt("epoch"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});
