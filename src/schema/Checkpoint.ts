// Checkpoint: a saved training state (parameters + optimizer state) a run can resume from.
import { builder } from "./builder.ts";

export const CheckpointType = builder.prismaObject("Checkpoint", {
  description: "A saved training state (parameters and optimizer state) a run can resume from",
  // Select mode: only the exposed columns are read, never the (multi-megabyte) state bytes.
  select: { id: true },
  fields: (t) => ({
    step: t.exposeInt("step", { description: "Steps the state includes: a resume continues at this step" }),
    epoch: t.exposeInt("epoch", { description: "Epoch of the last step it includes" }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was written" }),
  }),
});
