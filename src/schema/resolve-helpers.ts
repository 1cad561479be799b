// Shared resolver plumbing: loading a run or failing with NotFoundError, reading every row of a range.
// Errors need no mapping here: every layer throws the typed errors of src/errors.ts.
import type { BatchRow, Metric, Run } from "../db/index.ts";
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import type { Context } from "./context.ts";
import { encodeCursor } from "./shapes.ts";

export async function loadRun(ctx: Context, id: string | number): Promise<Run> {
  const run = await ctx.db.getRun(intId("run", id));
  if (!run) throw new NotFoundError("run", String(id));
  return run;
}

/** Every batch row with step in [from, to], in step order; refuses ranges above `limit` rows. */
export async function readRows(
  ctx: Context,
  runId: number,
  from: number,
  to: number,
  limit: number,
): Promise<BatchRow[]> {
  const rows: BatchRow[] = [];
  let after = from - 1;
  for (;;) {
    const page = await ctx.db.batchMetricsPage(runId, after, 10_000);
    for (const r of page.rows) {
      if (r.step > to) return rows;
      rows.push(r);
    }
    if (rows.length > limit) {
      throw new ValidationError(
        "fromStep",
        `the range holds more than ${limit} batches; narrow it with fromStep/toStep (at most ${limit} batches)`,
      );
    }
    if (!page.hasNextPage || page.endStep === null) return rows;
    after = page.endStep;
  }
}

/** maxPoints of history, fluctuation and compare series against the MAX_POINTS in force. */
export function checkMaxPoints(ctx: Context, maxPoints: number): void {
  const max = ctx.config.limits.maxPoints;
  if (maxPoints < 1 || maxPoints > max)
    throw new ValidationError("maxPoints", `maxPoints must be from 1 to ${max}, got ${maxPoints}`);
}

/** One run's metric over its progress, at most maxPoints points (compareRuns and Sweep.compare). */
export async function runSeries(ctx: Context, run: Run, metric: Metric, maxPoints: number) {
  const h = await ctx.db.history(run.id, { metrics: [metric], maxPoints });
  const total = Math.max(1, run.totalSteps);
  const points = h.buckets.flatMap((b) => {
    const s = b.values[metric];
    return s ? [{ step: b.lastStep, progress: (b.lastStep + 1) / total, ...s }] : [];
  });
  return { run, metric, points };
}

/** A Relay page of id-keyed nodes from `first + 1` fetched ones (the extra one says a next page exists). */
export function idPage<T extends { id: number }>(
  kind: string,
  fetched: T[],
  first: number,
  after: number | null,
) {
  const edges = fetched.slice(0, first).map((node) => ({ cursor: encodeCursor(kind, node.id), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: fetched.length > first,
      hasPreviousPage: after !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
