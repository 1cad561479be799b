// Shared resolver plumbing: loading a run or failing with NotFoundError, reading every row of a range.
// Errors need no mapping here: every layer throws the typed errors of src/errors.ts.
import type { BatchRow, Run } from "../db/index.ts";
import { intId, NotFoundError, ValidationError } from "../errors.ts";
import type { Context } from "./context.ts";

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
