import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase, RunStatus } from "../../src/db/index.ts";
import { makeRows, makeRun } from "../helpers/fixtures.ts";
import { BACKENDS } from "./backends.ts";

const child = fileURLToPath(new URL("./crash-child.ts", import.meta.url));

/** Runs the child until it has published at least `atLeast` steps, then SIGKILLs it mid-write. */
function runAndKill(url: string, runId: number, atLeast: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", child, url, String(runId)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const published: number[] = [];
    let buffered = "";
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    p.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? ""; // a line cut by the kill was never fully published
      for (const line of lines) published.push(Number(line.slice("published ".length)));
      if (published.length >= atLeast && !p.killed) p.kill("SIGKILL");
    });
    p.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve(published);
      else reject(new Error(`crash child exited with ${code}: ${stderr}`));
    });
  });
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`crash during training on ${backend.name}`, () => {
    afterAll(() => backend.stop());

    it("keeps every published step exactly once, marks the run INTERRUPTED, and resumes from its checkpoint", async () => {
      const url = await backend.newUrl();
      let db = await openDatabase(url);
      const run = await makeRun(db, { totalSteps: 1_000_000 });
      await db.updateRun(run.id, { status: RunStatus.RUNNING, startedAt: new Date() });
      await db.close();

      const published = await runAndKill(url, run.id, 3_000);

      db = await openDatabase(url);
      try {
        expect(await db.recoverAfterCrash()).toEqual({ interrupted: [run.id], queued: [] });
        const stored: number[] = [];
        for (let after = -1; ; ) {
          const page = await db.batchMetricsPage(run.id, after, 5_000);
          stored.push(...page.rows.map((r) => r.step));
          if (!page.hasNextPage) break;
          after = page.endStep!;
        }
        const storedSet = new Set(stored);
        expect(published.length).toBeGreaterThanOrEqual(3_000);
        expect(published.filter((s) => !storedSet.has(s))).toEqual([]);
        expect(storedSet.size).toBe(stored.length);
        // Chunks are atomic: what is stored is a prefix of whole chunks.
        expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i));
        expect(stored.length % 50).toBe(0);
        const after = await db.getRun(run.id);
        expect([after?.status, after?.stepsCompleted, after?.lastStep]).toEqual([
          RunStatus.INTERRUPTED,
          stored.length,
          stored.length - 1,
        ]);

        // Resume: the runner restarts from the latest checkpoint and replays chunks already stored.
        const cp = await db.latestCheckpoint(run.id);
        expect(cp).not.toBeNull();
        const resumeAt = cp!.step + 1;
        expect(resumeAt).toBeLessThanOrEqual(stored.length);
        await db.updateRun(run.id, { status: RunStatus.RUNNING });
        for (let s = resumeAt; s < stored.length + 100; s += 50)
          await db.writeBatchChunk(run.id, makeRows(s, 50, s + 1));
        const resumed = (await db.batchMetricsPage(run.id, -1, 10_000)).rows.map((r) => r.step);
        // Replayed steps were not duplicated, and training went on past the crash point without a gap.
        expect(resumed).toEqual(Array.from({ length: resumed.length }, (_, i) => i));
        expect(resumed.length).toBeGreaterThanOrEqual(stored.length + 50);
        expect(resumed.slice(0, stored.length)).toEqual(stored);
        expect((await db.getRun(run.id))?.stepsCompleted).toBe(resumed.length);
      } finally {
        await db.close();
      }
    });
  });
}
