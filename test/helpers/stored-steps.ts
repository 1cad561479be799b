import type { Db } from "../../src/db/index.ts";

/** Every stored step of a run, in order, read page by page (duplicates or gaps would show here). */
export async function storedSteps(db: Db, runId: number): Promise<number[]> {
  const out: number[] = [];
  for (let after = -1; ; ) {
    const page = await db.batchMetricsPage(runId, after, 5_000);
    out.push(...page.rows.map((r) => r.step));
    if (!page.hasNextPage) return out;
    after = page.endStep as number;
  }
}
