// Two API processes on one PostgreSQL database (two ExternalRuns services, each serializing only its
// own calls) logging the same steps at once with different values: one call's values are stored, the
// other is refused naming the step, and the stored values never change.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase } from "../../src/db/index.ts";
import { ExternalRuns } from "../../src/runs/external.ts";
import { type TestPostgres, testPostgres } from "../helpers/postgres.ts";

let pg: TestPostgres;
let db: Db;
const limits = { maxLogRows: 1000, maxCustomMetrics: 10, maxMetricNameLength: 64, idleMs: 600_000 };

beforeAll(async () => {
  pg = await testPostgres();
  db = await openDatabase(pg.url);
});
afterAll(async () => {
  await db?.close();
  await pg?.stop();
});

describe("logMetrics idempotency across processes", () => {
  it("stores one of two concurrent conflicting calls and refuses the other naming the step, every time", async () => {
    const one = new ExternalRuns({ db, limits });
    const two = new ExternalRuns({ db, limits });
    const run = await one.create({ name: "shared" });
    for (let round = 0; round < 8; round++) {
      const rows = (loss: number) => Array.from({ length: 50 }, (_, i) => ({ step: round * 50 + i, loss }));
      const results = await Promise.allSettled([one.log(run.id, rows(1)), two.log(run.id, rows(2))]);
      const stored = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter((r) => r.status === "rejected");
      expect(stored.map((r) => (r as PromiseFulfilledResult<{ stored: number }>).value.stored)).toEqual([50]);
      expect(refused).toHaveLength(1);
      expect(String((refused[0] as PromiseRejectedResult).reason.message)).toMatch(
        new RegExp(
          `^step ${round * 50} is already stored with a different loss \\(stored [12], sent [12]\\)`,
        ),
      );
      const winner = results[0].status === "fulfilled" ? 1 : 2;
      const page = await db.batchMetricsPage(run.id, round * 50 - 1, 50);
      expect(new Set(page.rows.map((r) => r.loss))).toEqual(new Set([winner]));
    }
  });
});
