// A sweep through the single-process run manager (SQLite): its runs train, the dropout dimension really
// switches Dropout off, and the report names the best run by validation accuracy.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase, RunStatus } from "../../src/db/index.ts";
import { createRunManager, type GradstreamRunManager } from "../../src/runs/manager.ts";
import { startSweep, sweepReport } from "../../src/runs/sweep.ts";
import { RunConfigError } from "../../src/train/config.ts";

const dir = mkdtempSync(join(tmpdir(), "gradstream-sweep-"));
let db: Db;
let m: GradstreamRunManager;

beforeAll(async () => {
  db = await openDatabase(`file:${join(dir, "sweep.db")}`);
  m = await createRunManager({ db, maxConcurrent: 2 });
});
afterAll(async () => {
  await m.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function finished(ids: number[]) {
  for (const id of ids) for await (const c of m.batches(id, -1)) if (c.final) break;
  return Promise.all(ids.map(async (id) => (await db.getRun(id))!));
}

describe("sweeps in one process", () => {
  it("trains a dropout on/off grid of the CNN: dropout off changes the losses, and the best run is reported", async () => {
    const cnn = await m.builtinModel("cnn");
    const { sweep, runs } = await startSweep(m, db, {
      modelId: cnn.id,
      dataset: { spec: "synthetic:samples=200,shape=3x32x32,classes=10" },
      base: {
        epochs: 1,
        batchSize: 50,
        k: 2,
        optimizer: { kind: "adam", lr: 0.001 },
        validation: { fraction: 0.2 },
      },
      strategy: "grid",
      space: { dropout: [true, false] },
    });
    expect(runs.map((r) => r.hyperparameters)).toMatchObject([{}, { dropout: false }]);
    const done = await finished(runs.map((r) => r.id));
    expect(done.map((r) => r.status)).toEqual([RunStatus.COMPLETED, RunStatus.COMPLETED]);
    const [on, off] = await Promise.all(runs.map((r) => db.batchMetricsPage(r.id, -1, 10)));
    // Same seed, weights and batches: the first step's loss is the same forward pass except for the masks.
    expect(on.rows[0].loss).not.toBe(off.rows[0].loss);
    const report = await sweepReport(db, sweep.id);
    expect(report?.runs.map((r) => r.id)).toEqual(runs.map((r) => r.id));
    const best = [...done].sort(
      (a, b) => (b.bestValAccuracy ?? 0) - (a.bestValAccuracy ?? 0) || a.id - b.id,
    )[0];
    expect(report?.best?.id).toBe(best.id);
  });

  it("refuses a sweep with an invalid point before creating any run", async () => {
    const linear = await m.builtinModel("linear");
    const before = (await db.listRuns({ first: 100 })).length;
    await expect(
      startSweep(m, db, {
        modelId: linear.id,
        dataset: { spec: "linear" },
        base: { epochs: 1 },
        strategy: "grid",
        space: { batchSize: [10, 0] },
      }),
    ).rejects.toThrow(RunConfigError);
    expect((await db.listRuns({ first: 100 })).length).toBe(before);
  });
});
