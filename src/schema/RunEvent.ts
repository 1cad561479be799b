// RunEvent and the runEvents subscription: a run's status changes and epoch summaries.
import type { RunEvent } from "../runs/types.ts";
import { builder } from "./builder.ts";
import { EpochMetricType } from "./EpochMetric.ts";
import { RunStatusEnum } from "./Run.ts";
import { loadRun } from "./resolve-helpers.ts";

type StatusEvent = Extract<RunEvent, { kind: "status" }>;
type EpochEvent = Extract<RunEvent, { kind: "epoch" }>;

const RunStatusEventType = builder.objectRef<StatusEvent>("RunStatusEvent").implement({
  isTypeOf: (e) => typeof e === "object" && e !== null && "kind" in e && e.kind === "status",
  fields: (t) => ({
    runId: t.id({ resolve: (e) => String(e.runId) }),
    status: t.field({ type: RunStatusEnum, resolve: (e) => e.status }),
    error: t.exposeString("error", { nullable: true }),
    at: t.field({ type: "DateTime", resolve: (e) => e.at }),
  }),
});

const RunEpochEventType = builder.objectRef<EpochEvent>("RunEpochEvent").implement({
  isTypeOf: (e) => typeof e === "object" && e !== null && "kind" in e && e.kind === "epoch",
  fields: (t) => ({
    runId: t.id({ resolve: (e) => String(e.runId) }),
    epoch: t.field({ type: EpochMetricType, resolve: (e) => e.epoch }),
  }),
});

export const RunEventUnion = builder.unionType("RunEvent", {
  types: [RunStatusEventType, RunEpochEventType],
  resolveType: (e) => (e.kind === "status" ? RunStatusEventType : RunEpochEventType),
});

builder.subscriptionField("runEvents", (t) =>
  t.field({
    type: RunEventUnion,
    args: { runId: t.arg.id({ required: true }) },
    subscribe: async (_root, { runId }, ctx) => ctx.runs.runEvents((await loadRun(ctx, runId)).id),
    resolve: (e) => e,
  }),
);
