// ASHA's rung decisions across processes on a real PostgreSQL server (two connections, as two workers
// have) and in one process on SQLite: eight trials reach one rung at the same moment. Under the sweep row's lock each
// decision sees exactly the results committed before it, so the decisions form one order, and each
// promotion follows the rule from the results it saw.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase } from "../../src/db/index.ts";
import { decideRung, sweepRungs } from "../../src/db/learning.ts";
import { attachRunsToSweep, createSweep } from "../../src/db/sweeps.ts";
import { promotes } from "../../src/runs/asha.ts";
import { makeRun } from "../helpers/fixtures.ts";
import { type TestPostgres, testPostgres } from "../helpers/postgres.ts";

describe.each(["postgresql", "sqlite"] as const)("ASHA rung decisions on %s", (dialect) => {
  let pg: TestPostgres | null = null;
  let dir: string | null = null;
  let a: Db;
  let b: Db;
  beforeAll(async () => {
    let url: string;
    if (dialect === "postgresql") {
      pg = await testPostgres();
      url = pg.url;
    } else {
      dir = mkdtempSync(join(tmpdir(), "gradstream-asha-"));
      url = `file:${join(dir, "asha.db")}`;
    }
    a = await openDatabase(url);
    // SQLite is one process's database (a cluster needs PostgreSQL): its deciders share one client.
    b = dialect === "postgresql" ? await openDatabase(url) : a;
  });
  afterAll(async () => {
    await a?.close();
    if (b !== a) await b?.close();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serializes concurrent deciders: each sees every result committed before it, once", async () => {
    const sweep = await createSweep(a, { name: "asha", strategy: "grid", spec: {} });
    const runs = [];
    for (let i = 0; i < 8; i++) runs.push(await makeRun(a));
    await attachRunsToSweep(
      a,
      sweep.id,
      runs.map((r) => r.id),
    );
    const rule = { mode: "min" as const, reductionFactor: 2 };
    const calls: { value: number; earlier: number[]; promoted: boolean }[] = [];
    // Values 8, 7, …, 1: later trials are better, so decisions depend on what each one saw.
    const rows = await Promise.all(
      runs.map((r, i) =>
        decideRung(
          i % 2 ? b : a,
          { sweepId: sweep.id, runId: r.id, rung: 0, step: 20, value: 8 - i },
          (earlier) => {
            const promoted = promotes(8 - i, earlier, rule);
            calls.push({ value: 8 - i, earlier: [...earlier], promoted });
            return promoted;
          },
        ),
      ),
    );
    expect(calls.length).toBe(8);
    const ordered = [...calls].sort((x, y) => x.earlier.length - y.earlier.length);
    expect(ordered.map((c) => c.earlier.length)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const [k, c] of ordered.entries())
      expect([...c.earlier].sort()).toEqual(
        ordered
          .slice(0, k)
          .map((p) => p.value)
          .sort(),
      );
    // What was stored is what each decider decided.
    for (const row of rows) expect(row.promoted).toBe(calls.find((c) => c.value === row.value)!.promoted);
    expect((await sweepRungs(b, sweep.id)).length).toBe(8);
    // A trial that reports the same rung again gets the decision already made, and nothing is re-decided.
    const again = await decideRung(
      b,
      { sweepId: sweep.id, runId: runs[0].id, rung: 0, step: 20, value: 0 },
      () => {
        throw new Error("decided twice");
      },
    );
    expect(again).toMatchObject({ value: 8, promoted: rows[0].promoted });
  });
});
