// RunsChangedEvent and the runsChanged subscription: runs created/started/finished/deleted, for lists.
import { globalId } from "../errors.ts";
import type { RunsChangedEvent } from "../runs/types.ts";
import { builder } from "./builder.ts";
import { RunStatusEnum, RunType } from "./Run.ts";

const RunChangeKindEnum = builder.enumType("RunChangeKind", {
  description: "What happened to a run",
  values: {
    CREATED: { value: "created", description: "A run was created (QUEUED, or RUNNING for EXTERNAL runs)" },
    STARTED: { value: "started", description: "A worker started training it" },
    FINISHED: { value: "finished", description: "It reached COMPLETED, FAILED, CANCELLED or INTERRUPTED" },
    DELETED: { value: "deleted", description: "It was deleted" },
  } as const,
});

const RunsChangedEventType = builder.objectRef<RunsChangedEvent>("RunsChangedEvent").implement({
  description: "A run appeared, started, ended or disappeared (for run lists)",
  fields: (t) => ({
    kind: t.field({ type: RunChangeKindEnum, description: "What happened", resolve: (e) => e.kind }),
    runId: t.id({ description: "The run's id", resolve: (e) => globalId("run", e.runId) }),
    status: t.field({
      type: RunStatusEnum,
      nullable: true,
      description: "Its status after the change; null once deleted",
      resolve: (e) => e.status,
    }),
    run: t.field({
      type: RunType,
      nullable: true,
      description: "The run as it is now (null once deleted)",
      resolve: (e, _args, ctx) => ctx.db.getRun(e.runId),
    }),
  }),
});

builder.subscriptionField("runsChanged", (t) =>
  t.field({
    type: RunsChangedEventType,
    description: "Every run's creation, start, end and deletion, live",
    subscribe: (_root, _args, ctx) => ctx.runs.runsChanged(),
    resolve: (e) => e,
  }),
);
