// RunEvent and the runEvents subscription: a run's status changes and epoch summaries.
import { globalId } from "../errors.ts";
import type { RunEvent } from "../runs/types.ts";
import { builder } from "./builder.ts";
import { EpochMetricType } from "./EpochMetric.ts";
import { RunStatusEnum } from "./Run.ts";
import { loadRun } from "./resolve-helpers.ts";

type StatusEvent = Extract<RunEvent, { kind: "status" }>;
type EpochEvent = Extract<RunEvent, { kind: "epoch" }>;

const RunStatusEventType = builder.objectRef<StatusEvent>("RunStatusEvent").implement({
  description: "A run changed status",
  isTypeOf: (e) => typeof e === "object" && e !== null && "kind" in e && e.kind === "status",
  fields: (t) => ({
    runId: t.id({ description: "The run's id", resolve: (e) => globalId("run", e.runId) }),
    status: t.field({ type: RunStatusEnum, description: "The new status", resolve: (e) => e.status }),
    error: t.exposeString("error", { nullable: true, description: "Why it failed; null unless FAILED" }),
    at: t.field({ type: "DateTime", description: "When it changed", resolve: (e) => e.at }),
  }),
});

const RunEpochEventType = builder.objectRef<EpochEvent>("RunEpochEvent").implement({
  description: "A run finished an epoch",
  isTypeOf: (e) => typeof e === "object" && e !== null && "kind" in e && e.kind === "epoch",
  fields: (t) => ({
    runId: t.id({ description: "The run's id", resolve: (e) => globalId("run", e.runId) }),
    epoch: t.field({ type: EpochMetricType, description: "The epoch's values", resolve: (e) => e.epoch }),
  }),
});

export const RunEventUnion = builder.unionType("RunEvent", {
  description: "An event of one run: a status change or a finished epoch",
  types: [RunStatusEventType, RunEpochEventType],
  resolveType: (e) => (e.kind === "status" ? RunStatusEventType : RunEpochEventType),
});

builder.subscriptionField("runEvents", (t) =>
  t.field({
    type: RunEventUnion,
    description: "A run's status changes and finished epochs, live",
    args: {
      runId: t.arg.id({ required: true, description: "The run's id (the legacy number is accepted)" }),
    },
    subscribe: async (_root, { runId }, ctx) => ctx.runs.runEvents((await loadRun(ctx, runId)).id),
    resolve: (e) => e,
  }),
);
