// A full database disk mid-run (SQLite's max_page_count on the writer connection: no root needed)
// stops the run with the cause, keeps what was stored, refuses new runs with the same reason, and a
// resume after space is freed stores every step once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase, RunStatus, StorageError } from "../../src/db/index.ts";
import { createRunManager, type GradstreamRunManager } from "../../src/runs/manager.ts";
import type { BatchChunkEvent } from "../../src/runs/types.ts";
import { EXPERIMENTS } from "../../src/train/config.ts";
import { storedSteps } from "../helpers/stored-steps.ts";

const dir = mkdtempSync(join(tmpdir(), "gradstream-diskfull-"));

describe("a full database disk mid-run", () => {
  let db: Db;
  let m: GradstreamRunManager;
  const linear = EXPERIMENTS.linear.runs[0];
  let modelId: number;
  const startLinear = (epochs: number) => {
    const { dataset, ...config } = linear;
    return m.start({ modelId, dataset: { spec: dataset }, config: { ...config, epochs } });
  };

  beforeAll(async () => {
    db = await openDatabase(`file:${join(dir, "full.db")}`);
    m = await createRunManager({ db, maxConcurrent: 2, checkpointEvery: 50 });
    modelId = (await m.builtinModel("linear")).id;
  });
  afterAll(async () => {
    await m.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("fails the run naming the full disk, keeps its rows, refuses new runs, and resumes with no gap or duplicate after space is freed", async () => {
    const run = await startLinear(400); // 4,000 steps
    const seen: BatchChunkEvent[] = [];
    let filled = false;
    for await (const c of m.batches(run.id, -1)) {
      seen.push(c);
      if (!filled && c.lastStep >= 300) {
        // No page may be added from now on: the next chunks fail with SQLITE_FULL.
        await db.rawQuery("PRAGMA max_page_count = 1");
        filled = true;
      }
      if (c.final) break;
    }
    const failed = await db.getRun(run.id);
    expect(failed?.status).toBe(RunStatus.FAILED);
    expect(failed?.errorMessage).toMatch(
      /^the database disk is full \(database or disk is full\); the rows stored before it are kept: free space or fix the disk, then resumeRun continues/,
    );
    // Subscribers got the final chunk, and every step they saw is stored exactly once, with no gap.
    expect(seen.at(-1)?.final).toBe(true);
    const before = await storedSteps(db, run.id);
    const published = seen.flatMap((c) => c.rows.map((r) => r.step));
    expect(before).toEqual(Array.from({ length: before.length }, (_, i) => i));
    expect(published).toEqual(before);
    expect(failed?.stepsCompleted).toBe(before.length);
    expect(before.length).toBeLessThan(4_000);

    // While the disk is full, a new run is refused with the same reason and nothing is created.
    const runsBefore = (await db.rawQuery<{ n: number }>(`SELECT count(*) AS n FROM "Run"`))[0].n;
    const refused = await startLinear(1).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StorageError);
    expect((refused as Error).message).toBe(failed?.errorMessage);
    expect((await db.rawQuery<{ n: number }>(`SELECT count(*) AS n FROM "Run"`))[0].n).toBe(runsBefore);

    // Space freed: the resumed run finishes with every step stored once.
    await db.rawQuery("PRAGMA max_page_count = 1073741823");
    await m.resume(run.id);
    for await (const c of m.batches(run.id, before.length - 1)) if (c.final) break;
    const done = await db.getRun(run.id);
    expect(done?.status).toBe(RunStatus.COMPLETED);
    expect(await storedSteps(db, run.id)).toEqual(Array.from({ length: 4_000 }, (_, i) => i));
    expect(done?.stepsCompleted).toBe(4_000);

    // And new runs are accepted again.
    const next = await startLinear(1);
    for await (const c of m.batches(next.id, -1)) if (c.final) break;
    expect((await db.getRun(next.id))?.status).toBe(RunStatus.COMPLETED);
  });
});
