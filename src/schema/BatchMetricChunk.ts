// BatchMetricChunk and the batchMetrics subscription: one event per persisted runner chunk (K batches
// in step order). Replays what is persisted after afterStep, then continues live with no gap and no
// duplicate, and completes after the chunk marked final.
import { GraphQLError } from "graphql";
import { globalId, ValidationError } from "../errors.ts";
import { SubscriberOverflowError } from "../runs/broadcast.ts";
import type { BatchChunkEvent } from "../runs/types.ts";
import { BatchMetricType } from "./BatchMetric.ts";
import { builder } from "./builder.ts";
import { loadRun } from "./resolve-helpers.ts";

export const BatchMetricChunkType = builder.objectRef<BatchChunkEvent>("BatchMetricChunk").implement({
  description:
    "One persisted chunk of consecutive batches; every field is a pure function of the chunk, so the server executes and serializes it once for all subscribers with the same selection",
  fields: (t) => ({
    runId: t.id({ description: "The run's id", resolve: (c) => globalId("run", c.runId) }),
    rows: t.field({
      type: [BatchMetricType],
      description: "The chunk's batches in step order",
      resolve: (c) => c.rows,
    }),
    lastStep: t.exposeInt("lastStep", { description: "Pass this as afterStep to resume after this chunk" }),
    final: t.exposeBoolean("final", {
      description: "The run has ended; the subscription completes after this",
    }),
  }),
});

/**
 * Re-raises a bounded-queue overflow as a client-facing error with a machine-readable code and the
 * step to resume after. A hand-written iterator rather than an async generator: it sits on every
 * subscriber's path for every chunk, and return() must reach the source at once (an async generator
 * defers it until its pending next() settles).
 */
export function resumeHint<T extends { lastStep: number }>(
  source: AsyncIterator<T>,
  afterStep: number,
): AsyncIterableIterator<T> {
  let last = afterStep;
  const it: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => it,
    async next() {
      try {
        const r = await source.next();
        if (!r.done) last = Math.max(last, r.value.lastStep);
        return r;
      } catch (err) {
        if (err instanceof SubscriberOverflowError) {
          throw new GraphQLError(err.message, {
            extensions: { code: "SUBSCRIBER_OVERFLOW", resumeAfterStep: last },
          });
        }
        throw err;
      }
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
  };
  return it;
}

builder.subscriptionField("batchMetrics", (t) =>
  t.field({
    type: BatchMetricChunkType,
    description:
      "A run's batches, one event per persisted chunk: what is stored after afterStep first, then live; completes after the chunk marked final",
    args: {
      runId: t.arg.id({ required: true, description: "The run's id (the legacy number is accepted)" }),
      afterStep: t.arg.int({
        defaultValue: -1,
        required: true,
        description: "Resume after this step (-1: from the start)",
      }),
    },
    subscribe: async (_root, { runId, afterStep }, ctx) => {
      if (afterStep < -1) throw new ValidationError("afterStep", `afterStep must be ≥ -1, got ${afterStep}`);
      const run = await loadRun(ctx, runId);
      return resumeHint(ctx.runs.batches(run.id, afterStep), afterStep);
    },
    resolve: (chunk) => chunk,
  }),
);
