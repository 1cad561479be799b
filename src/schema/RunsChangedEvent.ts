// RunsChangedEvent and the runsChanged subscription: runs created/started/finished/deleted, for lists.
import type { RunsChangedEvent } from "../runs/types.ts";
import { builder } from "./builder.ts";
import { RunStatusEnum, RunType } from "./Run.ts";

const RunChangeKindEnum = builder.enumType("RunChangeKind", {
  values: ["created", "started", "finished", "deleted"] as const,
});

const RunsChangedEventType = builder.objectRef<RunsChangedEvent>("RunsChangedEvent").implement({
  fields: (t) => ({
    kind: t.field({ type: RunChangeKindEnum, resolve: (e) => e.kind }),
    runId: t.id({ resolve: (e) => String(e.runId) }),
    status: t.field({ type: RunStatusEnum, nullable: true, resolve: (e) => e.status }),
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
    subscribe: (_root, _args, ctx) => ctx.runs.runsChanged(),
    resolve: (e) => e,
  }),
);
