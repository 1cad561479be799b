// RESUME_ON_START: runs a dead process left RUNNING are resumed by the next start, with no call, from
// their latest checkpoint, and a run that keeps crashing without progress is failed instead.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase, RunStatus } from "../../src/db/index.ts";
import type { BatchRow } from "../../src/db/types.ts";
import { createRunManager } from "../../src/runs/manager.ts";
import { startLinearRun } from "../helpers/linear-run.ts";
import { storedRows, storedSteps } from "../helpers/stored-steps.ts";

const dir = mkdtempSync(join(tmpdir(), "gradstream-resume-"));
const child = fileURLToPath(new URL("./crash-child.ts", import.meta.url));

/** Trains in a child process and SIGKILLs it once `atLeast` steps are stored; resolves the run id. */
function trainAndKill(url: string, epochs: number, atLeast: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", child, url, String(epochs)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let runId = 0;
    let out = "";
    let err = "";
    p.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      runId ||= Number(/run (\d+)/.exec(out)?.[1] ?? 0);
      const last = Number([...out.matchAll(/stored (\d+)/g)].at(-1)?.[1] ?? -1);
      if (last >= atLeast && !p.killed) p.kill("SIGKILL");
    });
    p.on("exit", (_code, signal) => {
      if (signal === "SIGKILL") resolve(runId);
      else reject(new Error(`the training child exited by itself: ${err}`));
    });
  });
}

// Each case starts two processes that each probe the execution providers and start a trainer process:
// on a loaded machine that alone took most of a minute.
describe("resume on start", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("resumes a run whose process was SIGKILLed, without a call, and stores every step exactly once, as an uninterrupted run does, diagnostics included", async () => {
    const url = `file:${join(dir, "killed.db")}`;
    const runId = await trainAndKill(url, 500, 800); // 5,000 steps, killed after ≥ 800 stored
    const db = await openDatabase(url);
    const m = await createRunManager({ db, resumeOnStart: true, maxConcurrent: 1 });
    try {
      expect((await db.getRun(runId))?.status).not.toBe(RunStatus.INTERRUPTED);
      for await (const c of m.batches(runId, -1)) if (c.final) break;
      const run = await db.getRun(runId);
      expect(run?.status).toBe(RunStatus.COMPLETED);
      expect(await storedSteps(db, runId)).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
      expect(run?.stepsCompleted).toBe(5_000);
      const [{ crashes }] = await db.rawQuery<{ crashes: number }>(
        `SELECT "crashes" FROM "Run" WHERE "id" = ${runId}`,
      );
      expect(crashes).toBe(0);
      // The same run, never interrupted, stores the same rows: every loss, and every noise diagnostic
      // (the checkpoint carries the probe's state, so the segment the crash cut is measured whole).
      const whole = await startLinearRun(m, 500);
      for await (const c of m.batches(whole.id, -1)) if (c.final) break;
      const values = (r: BatchRow) => ({ ...r, timeMs: 0 });
      const resumed = (await storedRows(db, runId)).map(values);
      expect(resumed.filter((r) => r.custom?.["noise.observed_var"] !== undefined)).toHaveLength(17);
      expect(resumed).toEqual((await storedRows(db, whole.id)).map(values));
    } finally {
      await m.close();
      await db.close();
    }
  }, 180_000);

  it("fails a run that crashed MAX_TRAINER_CRASHES times in a row without a new step instead of resuming it", async () => {
    const url = `file:${join(dir, "looping.db")}`;
    const runId = await trainAndKill(url, 500, 100);
    // Two earlier starts already found it crashed with no progress since.
    const setup = await openDatabase(url);
    await setup.rawQuery(`UPDATE "Run" SET "crashes" = 2 WHERE "id" = ${runId}`);
    const stored = await storedSteps(setup, runId);
    await setup.close();

    const db = await openDatabase(url);
    const m = await createRunManager({ db, resumeOnStart: true, maxTrainerCrashes: 3 });
    try {
      const run = await db.getRun(runId);
      expect(run?.status).toBe(RunStatus.FAILED);
      expect(run?.errorMessage).toBe(
        "failed: the process training this run died 3 times in a row without storing a new step (MAX_TRAINER_CRASHES=3), so it is not resumed again on start; resumeRun to try once more",
      );
      expect(await storedSteps(db, runId)).toEqual(stored);
    } finally {
      await m.close();
      await db.close();
    }
  }, 180_000);

  it("leaves crashed runs INTERRUPTED when resume on start is off", async () => {
    const url = `file:${join(dir, "off.db")}`;
    const runId = await trainAndKill(url, 500, 100);
    const db = await openDatabase(url);
    const m = await createRunManager({ db, resumeOnStart: false });
    try {
      expect((await db.getRun(runId))?.status).toBe(RunStatus.INTERRUPTED);
    } finally {
      await m.close();
      await db.close();
    }
  }, 180_000);
});
