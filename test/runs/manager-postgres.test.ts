import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase, RunStatus } from "../../src/db/index.ts";
import { createRunManager, type GradstreamRunManager } from "../../src/runs/manager.ts";
import type { BatchChunkEvent } from "../../src/runs/types.ts";
import { type TestPostgres, testPostgres } from "../helpers/postgres.ts";

async function steps(it: AsyncIterableIterator<BatchChunkEvent>, onChunk?: (c: BatchChunkEvent) => void) {
  const out: number[] = [];
  for await (const c of it) {
    out.push(...c.rows.map((r) => r.step));
    onChunk?.(c);
    if (c.final) break;
  }
  return out;
}

describe("run manager on PostgreSQL", () => {
  let pg: TestPostgres;
  let db: Db;
  let m: GradstreamRunManager;
  beforeAll(async () => {
    pg = await testPostgres();
    db = await openDatabase(pg.url);
    m = await createRunManager({ db, maxConcurrent: 1 });
  });
  afterAll(async () => {
    await m?.close();
    await db?.close();
    await pg?.stop();
  });

  it("runs example 1 and a cancelled-then-resumed run with every step stored and streamed exactly once", async () => {
    const [linear] = await m.startExperiment("linear");
    expect(await steps(m.batches(linear.id, -1))).toEqual([...Array(100).keys()]);
    expect(await db.getRun(linear.id)).toMatchObject({ status: RunStatus.COMPLETED, stepsCompleted: 100 });

    const [bs10] = await m.startExperiment("batch-size");
    let cancelled: Promise<unknown> | null = null;
    const before = await steps(m.batches(bs10.id, -1), (c) => {
      if (!cancelled && c.lastStep >= 30) cancelled = m.cancel(bs10.id);
    });
    await cancelled;
    const stopped = await db.getRun(bs10.id);
    expect(stopped?.status).toBe(RunStatus.CANCELLED);
    expect(stopped?.lastStep).toBe(before.at(-1));
    await m.resume(bs10.id);
    const after = await steps(m.batches(bs10.id, stopped?.lastStep ?? -1));
    expect([...before, ...after]).toEqual([...Array(100).keys()]);
    expect(await db.getRun(bs10.id)).toMatchObject({ status: RunStatus.COMPLETED, stepsCompleted: 100 });
  });
});
