// runs(filter, orderBy) in SQL on SQLite and PostgreSQL: the results columns (best validation
// accuracy, last loss, duration) are maintained on write, sorted and filtered by indexed queries with
// NULLs last, keyset pages neither skip nor repeat a run, and the tag filter is an indexed join.
import { describe, expect, it } from "vitest";
import type { Db, ListRunsOptions, Run } from "../../src/db/index.ts";
import { makeRows, makeRun } from "../helpers/fixtures.ts";
import { BACKENDS, useDatabase } from "./backends.ts";

/** Every page of `opts`, `size` at a time, following the keyset cursor (the last id of each page). */
async function allPages(
  db: Db,
  opts: Omit<ListRunsOptions, "first" | "after">,
  size: number,
): Promise<Run[]> {
  const out: Run[] = [];
  let after: number | null = null;
  for (;;) {
    const page = await db.listRuns({ ...opts, first: size, after });
    out.push(...page);
    if (page.length < size) return out;
    after = page[page.length - 1].id;
  }
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`runs by results on ${backend.name}`, () => {
    let db: Db;
    useDatabase(backend, (d) => {
      db = d;
    });
    // id → [bestValAccuracy, last loss, duration ms]; null = none yet.
    const plan: [number | null, number | null, number | null][] = [
      [0.7, 0.5, 3000],
      [null, 0.9, null],
      [0.9, 0.2, 1000],
      [0.7, null, 2000],
      [0.8, 0.4, null],
      [null, null, 5000],
      [0.9, 0.6, 4000],
    ];
    let ids: number[] = [];

    it("keeps lastLoss (the loss at the highest stored step), durationMs and the RunTag rows up to date on write", async () => {
      ids = [];
      for (const [i, [acc, loss, ms]] of plan.entries()) {
        const run = await makeRun(db, { tags: i % 2 === 0 ? ["even", "all"] : ["all"] });
        ids.push(run.id);
        if (loss !== null) {
          const rows = makeRows(0, 10);
          rows[9].loss = loss;
          // The later chunk first: an earlier step stored afterwards does not replace the last loss.
          await db.writeBatchChunk(run.id, rows.slice(5));
          await db.writeBatchChunk(run.id, rows.slice(0, 5));
        }
        if (acc !== null) {
          await db.writeEpoch(run.id, {
            epoch: 0,
            trainLoss: 1,
            trainAccuracy: 0.5,
            valLoss: 1,
            valAccuracy: acc,
            batches: 10,
            timeMs: 1,
          });
        }
        if (ms !== null) {
          const startedAt = new Date(Date.UTC(2026, 0, 1));
          await db.updateRun(run.id, { status: "RUNNING", startedAt });
          await db.updateRun(run.id, { status: "COMPLETED", finishedAt: new Date(startedAt.getTime() + ms) });
        }
      }
      const stored = await Promise.all(ids.map((id) => db.getRun(id)));
      expect(stored.map((r) => r?.lastLoss ?? null)).toEqual(plan.map((p) => p[1]));
      expect(stored.map((r) => r?.durationMs ?? null)).toEqual(plan.map((p) => p[2]));
      expect(stored.map((r) => r?.bestValAccuracy ?? null)).toEqual(plan.map((p) => p[0]));
      // A run resumed (finishedAt cleared) has no duration again.
      await db.updateRun(ids[0], { status: "RUNNING", finishedAt: null });
      expect((await db.getRun(ids[0]))?.durationMs).toBeNull();
      await db.updateRun(ids[0], { status: "COMPLETED", finishedAt: new Date(Date.UTC(2026, 0, 1) + 3000) });
      const tags = await db.prisma.runTag.findMany({
        where: { runId: { in: ids } },
        orderBy: [{ runId: "asc" }, { tag: "asc" }],
      });
      expect(tags.filter((t) => t.tag === "even").map((t) => t.runId)).toEqual([
        ids[0],
        ids[2],
        ids[4],
        ids[6],
      ]);
      await db.updateRun(ids[1], { tags: ["even", "relabelled"] });
      expect((await db.listRuns({ first: 10, tag: "relabelled" })).map((r) => r.id)).toEqual([ids[1]]);
      await db.updateRun(ids[1], { tags: ["all"] });
    });

    it("sorts by best validation accuracy, last loss and duration with runs lacking a value last, ties by id", async () => {
      const order = async (o: Omit<ListRunsOptions, "first">) =>
        (await db.listRuns({ first: 100, ...o }))
          .filter((r) => ids.includes(r.id))
          .map((r) => ids.indexOf(r.id));
      expect(await order({ sortBy: "bestValAccuracy", order: "desc" })).toEqual([6, 2, 4, 3, 0, 5, 1]);
      expect(await order({ sortBy: "bestValAccuracy", order: "asc" })).toEqual([0, 3, 4, 2, 6, 1, 5]);
      expect(await order({ sortBy: "lastLoss", order: "asc" })).toEqual([2, 4, 0, 6, 1, 3, 5]);
      expect(await order({ sortBy: "durationMs", order: "desc" })).toEqual([5, 6, 0, 3, 2, 4, 1]);
    });

    it("pages through a results order one and two runs at a time with no run skipped or repeated", async () => {
      for (const sortBy of ["bestValAccuracy", "lastLoss", "durationMs"] as const) {
        for (const order of ["asc", "desc"] as const) {
          const whole = (await db.listRuns({ first: 100, sortBy, order })).map((r) => r.id);
          for (const size of [1, 2]) {
            expect((await allPages(db, { sortBy, order }, size)).map((r) => r.id)).toEqual(whole);
          }
        }
      }
    });

    it("filters by ranges of the results columns and by tag, leaving out runs without a value", async () => {
      const pick = async (o: Omit<ListRunsOptions, "first">) =>
        (await db.listRuns({ first: 100, ...o })).map((r) => ids.indexOf(r.id)).sort();
      expect(await pick({ minBestValAccuracy: 0.8 })).toEqual([2, 4, 6]);
      expect(await pick({ maxLastLoss: 0.5 })).toEqual([0, 2, 4]);
      expect(await pick({ minDurationMs: 2000, maxDurationMs: 4000 })).toEqual([0, 3, 6]);
      expect(await pick({ tag: "even", minBestValAccuracy: 0.75 })).toEqual([2, 4, 6]);
      expect(await pick({ tag: "even", sortBy: "lastLoss", order: "asc" })).toEqual([0, 2, 4, 6]);
      expect(await pick({ tag: "no-such-tag" })).toEqual([]);
    });

    it("answers the results orders and the tag filter from an index, not a scan of Run", async () => {
      const plans =
        db.dialect === "sqlite"
          ? await Promise.all([
              db.rawQuery<{ detail: string }>(
                `EXPLAIN QUERY PLAN SELECT "id" FROM "Run" ORDER BY "lastLoss" DESC, "id" DESC LIMIT 5`,
              ),
              db.rawQuery<{ detail: string }>(
                `EXPLAIN QUERY PLAN SELECT "runId" FROM "RunTag" WHERE "tag" = 'even' ORDER BY "runId" DESC`,
              ),
            ])
          : [];
      if (db.dialect === "sqlite") {
        expect(plans[0].map((p) => p.detail).join(" ")).toContain("Run_lastLoss_id_idx");
        expect(plans[1].map((p) => p.detail).join(" ")).toMatch(/USING (COVERING )?INDEX|PRIMARY KEY/);
      } else {
        const idx = await db.rawQuery<{ indexname: string }>(
          `SELECT indexname FROM pg_indexes WHERE tablename IN ('Run', 'RunTag') ORDER BY indexname`,
        );
        expect(idx.map((r) => r.indexname)).toEqual(
          expect.arrayContaining([
            "Run_bestValAccuracy_id_idx",
            "Run_lastLoss_id_idx",
            "Run_durationMs_id_idx",
            "RunTag_pkey",
          ]),
        );
      }
    });
  });
}
