// The server writes a chunk's checkpoint while it waits for the next chunk (so the trainer is not held
// back by the write), yet stores nothing after a checkpoint before that checkpoint is durable, and a
// checkpoint that cannot be written still fails the run. Real SQLite, real trainer; the database's
// saveCheckpoint is wrapped to hold or fail one write.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase, RunStatus } from "../../src/db/index.ts";
import { createRunManager, type GradstreamRunManager } from "../../src/runs/manager.ts";
import type { BatchChunkEvent } from "../../src/runs/types.ts";
import { EXPERIMENTS } from "../../src/train/config.ts";
import { storedSteps } from "../helpers/stored-steps.ts";

const dir = mkdtempSync(join(tmpdir(), "gradstream-cpwrite-"));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("checkpoint writes during a run", () => {
  let db: Db;
  let m: GradstreamRunManager;
  let modelId: number;
  let original: Db["saveCheckpoint"];
  const start = () => {
    const { dataset, ...config } = EXPERIMENTS.linear.runs[0]; // 100 steps, chunks of 10
    return m.start({ modelId, dataset: { spec: dataset }, config });
  };

  beforeAll(async () => {
    db = await openDatabase(`file:${join(dir, "cp.db")}`);
    original = db.saveCheckpoint.bind(db);
    m = await createRunManager({ db, maxConcurrent: 1, checkpointEvery: 40 });
    modelId = (await m.builtinModel("linear")).id;
  });
  afterAll(async () => {
    await m.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores nothing after a checkpoint until it is written, then finishes with every step once", async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: (step: number) => void = () => {};
    const holding = new Promise<number>((resolve) => {
      started = resolve;
    });
    db.saveCheckpoint = async (runId, cp) => {
      if (cp.step === 40) {
        started(cp.step);
        await held;
      }
      return original(runId, cp);
    };
    try {
      const run = await start();
      const seen: BatchChunkEvent[] = [];
      const stream = (async () => {
        for await (const c of m.batches(run.id, -1)) {
          seen.push(c);
          if (c.final) break;
        }
      })();
      expect(await holding).toBe(40);
      // While the step-40 checkpoint is held, the trainer may run on, but no later chunk is stored or
      // published: a crash now must not leave rows past a checkpoint that was never written.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const last = seen.at(-1)?.lastStep ?? -1;
      expect(last).toBe(39);
      expect(await storedSteps(db, run.id)).toEqual(range(40));
      expect((await db.latestCheckpoint(run.id))?.step ?? null).toBeNull();
      release();
      await stream;
      const done = await db.getRun(run.id);
      expect(done?.status).toBe(RunStatus.COMPLETED);
      expect(await storedSteps(db, run.id)).toEqual(range(100));
      expect(seen.flatMap((c) => c.rows.map((r) => r.step))).toEqual(range(100));
      expect((await db.latestCheckpoint(run.id))?.step).toBe(100);
    } finally {
      db.saveCheckpoint = original;
      release();
    }
  });

  it("fails the run with the write's error when a checkpoint cannot be written, keeping the rows before it", async () => {
    db.saveCheckpoint = async (runId, cp) => {
      if (cp.step === 40) throw new Error("checkpoint write refused (test)");
      return original(runId, cp);
    };
    try {
      const run = await start();
      for await (const c of m.batches(run.id, -1)) if (c.final) break;
      const failed = await db.getRun(run.id);
      expect(failed?.status).toBe(RunStatus.FAILED);
      expect(failed?.errorMessage).toContain("checkpoint write refused (test)");
      // the chunk that carried the checkpoint was stored; nothing after it
      expect(await storedSteps(db, run.id)).toEqual(range(40));
    } finally {
      db.saveCheckpoint = original;
    }
  });
});
