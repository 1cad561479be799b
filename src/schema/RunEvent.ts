// RunEvent and the runEvents subscription: a run's status changes and epoch summaries.
import { globalId } from "../errors.ts";
import type { RunEvent } from "../runs/types.ts";
import { RunAlertEventType } from "./Alert.ts";
import { builder } from "./builder.ts";
import { EpochMetricType } from "./EpochMetric.ts";
import { RunStatusEnum } from "./Run.ts";
import { loadRun } from "./resolve-helpers.ts";
import { RunValidationEventType } from "./ValidationMetric.ts";

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

const EVENT_TYPES = {
  status: RunStatusEventType,
  epoch: RunEpochEventType,
  validation: RunValidationEventType,
  alert: RunAlertEventType,
} as const;

export const RunEventUnion = builder.unionType("RunEvent", {
  description: "A run's status change, epoch summary, evaluation or alert delivery",
  types: [RunStatusEventType, RunEpochEventType, RunValidationEventType, RunAlertEventType],
  resolveType: (e) => EVENT_TYPES[e.kind],
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
