// Experiment: the named reference experiments (and their learnable twins). Query `experiments`,
// mutation `startExperiment(name)` (batch-size starts both of its runs).

import { ValidationError } from "../errors.ts";
import { EXPERIMENTS, type Experiment } from "../runs/catalog.ts";
import { builder } from "./builder.ts";
import { RunType } from "./Run.ts";
import { JSONScalar } from "./scalars.ts";

export const ExperimentType = builder.objectRef<Experiment>("Experiment").implement({
  description: "A named, ready-made experiment: a built-in model, data and one or more run configurations",
  fields: (t) => ({
    name: t.exposeString("name", { description: "Its name, for startExperiment" }),
    description: t.exposeString("description", { description: "What it trains and what to look at" }),
    model: t.exposeString("model", { description: "Name of the built-in model it trains" }),
    reference: t.exposeBoolean("reference", {
      description:
        "One of the three reference experiments (linear, batch-size, cnn-dropout); false for their learnable twins",
    }),
    twin: t.exposeString("twin", { description: "Its learnable (or random-data) counterpart" }),
    runs: t.field({
      type: [JSONScalar],
      description: "The validated run configurations",
      resolve: (e) => e.runs,
    }),
  }),
});

builder.queryField("experiments", (t) =>
  t.field({
    type: [ExperimentType],
    description: "The reference experiments and their learnable twins",
    resolve: () => Object.values(EXPERIMENTS),
  }),
);

const ExperimentStartType = builder.objectRef<{
  experiment: Experiment;
  runs: import("../db/index.ts").Run[];
}>("ExperimentStart");
ExperimentStartType.implement({
  description: "A started experiment and its runs, all QUEUED",
  fields: (t) => ({
    experiment: t.field({
      type: ExperimentType,
      description: "The experiment",
      resolve: (s) => s.experiment,
    }),
    runs: t.field({
      type: [RunType],
      description: "The runs it created, in its order",
      resolve: (s) => s.runs,
    }),
  }),
});

builder.mutationField("startExperiment", (t) =>
  t.field({
    type: ExperimentStartType,
    description: "Starts every run of a named experiment (batch-size starts two)",
    errors: { types: [ValidationError], directResult: true },
    args: { name: t.arg.string({ required: true, description: "The experiment's name (see experiments)" }) },
    resolve: async (_root, { name }, ctx) => {
      const experiment = Object.hasOwn(EXPERIMENTS, name) ? EXPERIMENTS[name] : undefined;
      if (!experiment) {
        throw new ValidationError(
          "name",
          `unknown experiment ${JSON.stringify(name)}; known: ${Object.keys(EXPERIMENTS).join(", ")}`,
        );
      }
      const runs = await ctx.runs.startExperiment(name);
      return { experiment, runs };
    },
  }),
);
