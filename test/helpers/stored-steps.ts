import type { Db } from "../../src/db/index.ts";
import type { BatchRow } from "../../src/db/types.ts";

/** Every stored row of a run (custom metrics included), in order, read page by page. */
export async function storedRows(db: Db, runId: number): Promise<BatchRow[]> {
  const out: BatchRow[] = [];
  for (let after = -1; ; ) {
    const page = await db.batchMetricsPage(runId, after, 5_000);
    out.push(...page.rows);
    if (!page.hasNextPage) return out;
    after = page.endStep as number;
  }
}

/** Every stored step of a run, in order (duplicates or gaps would show here). */
export async function storedSteps(db: Db, runId: number): Promise<number[]> {
  return (await storedRows(db, runId)).map((r) => r.step);
}
