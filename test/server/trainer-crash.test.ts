// A trainer that dies mid-run (SIGKILL as the out-of-memory killer sends it, SIGSEGV as a segfault in
// onnxruntime raises it) fails only its run: the server keeps answering GraphQL, the run is FAILED
// with the signal's name and the first step not stored, the committed rows stay as they were, and
// resumeRun completes the run from its latest checkpoint with every step stored once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/index.ts";
import { RunStatus } from "../../src/db/index.ts";
import { GradstreamRunManager } from "../../src/runs/manager.ts";
import type { BatchChunkEvent } from "../../src/runs/types.ts";
import { EXPERIMENTS } from "../../src/train/config.ts";
import { type Live, startLive } from "../helpers/live-server.ts";
import { storedSteps } from "../helpers/stored-steps.ts";

let live: Live;
let runs: GradstreamRunManager;
let db: Db;
beforeAll(async () => {
  live = await startLive({ CHECKPOINT_EVERY: "10" });
  if (!(live.app.runs instanceof GradstreamRunManager) || !live.app.db) throw new Error("no run manager");
  runs = live.app.runs;
  db = live.app.db;
});
afterAll(() => live.close());

/** Collects a run's chunks until the final one, calling `onChunk` for each. */
async function follow(runId: number, after: number, onChunk: (c: BatchChunkEvent) => void = () => {}) {
  const seen: BatchChunkEvent[] = [];
  for await (const c of runs.batches(runId, after)) {
    seen.push(c);
    onChunk(c);
    if (c.final) break;
  }
  return seen;
}

describe("a trainer process that dies mid-run", () => {
  for (const signal of ["SIGKILL", "SIGSEGV"] as const) {
    it(`fails the run with ${signal} named, keeps the server answering and its rows, and resumeRun completes it with no gap or duplicate`, async () => {
      const e = EXPERIMENTS["cnn-dropout"];
      const model = await runs.builtinModel(e.model);
      const { dataset, ...config } = e.runs[0];
      // 1,000 samples at batch 32: 32 steps per epoch, 96 in all, K = 5.
      const run = await runs.start({
        modelId: model.id,
        dataset: { spec: dataset },
        config: { ...config, epochs: 3, k: 5 },
      });
      let killed = false;
      const seen = await follow(run.id, -1, (c) => {
        if (!killed && c.lastStep >= 24) {
          const pid = runs.trainerPid(run.id);
          expect(pid).not.toBeNull();
          expect(pid).not.toBe(process.pid);
          process.kill(pid as number, signal);
          killed = true;
        }
      });
      expect(killed).toBe(true);
      expect(seen.at(-1)?.final).toBe(true);

      // The server answers, and the run says why it stopped and where.
      const answer = await live.gql<{ experiments: { name: string }[] }>("{ experiments { name } }");
      expect(answer.data?.experiments.map((x) => x.name)).toContain("cnn-dropout");
      const failed = await db.getRun(run.id);
      expect(failed?.status).toBe(RunStatus.FAILED);
      expect(failed?.errorMessage).toMatch(new RegExp(`^the trainer process was killed by ${signal} \\(`));
      const stored = await storedSteps(db, run.id);
      expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i));
      expect(failed?.failedAtStep).toBe(stored.length);
      // Everything a subscriber saw is stored, and nothing more.
      expect(seen.flatMap((c) => c.rows.map((r) => r.step))).toEqual(stored);
      const committed = (await db.batchMetricsPage(run.id, -1, 1000)).rows;

      // Resume: from the latest checkpoint (a multiple of 10 at or below the last stored step).
      await runs.resume(run.id);
      await follow(run.id, stored.length - 1);
      const done = await db.getRun(run.id);
      expect(done?.status).toBe(RunStatus.COMPLETED);
      expect(done?.errorMessage).toBeNull();
      expect(await storedSteps(db, run.id)).toEqual(Array.from({ length: 96 }, (_, i) => i));
      // The rows committed before the crash are unchanged (the replayed steps were not stored twice).
      const after = (await db.batchMetricsPage(run.id, -1, 1000)).rows.slice(0, committed.length);
      expect(after).toEqual(committed);
    });
  }
});
