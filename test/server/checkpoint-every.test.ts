// CHECKPOINT_EVERY reaches the training of the default single-process server (it once reached only
// cluster workers, so a crash of `npm start` lost everything since the last 30 s interval).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Live, startLive } from "../helpers/live-server.ts";

let live: Live;
beforeAll(async () => {
  live = await startLive({ CHECKPOINT_EVERY: "25" });
});
afterAll(() => live.close());

describe("CHECKPOINT_EVERY in the default single-process server", () => {
  it("checkpoints a 100-step run every 25 steps, not only at its end", async () => {
    const runs = live.app.runs;
    const db = live.app.db;
    if (!runs || !db) throw new Error("the server did not start");
    const [run] = await runs.startExperiment("linear");
    for await (const chunk of runs.batches(run.id, -1)) if (chunk.final) break;
    const checkpoints = await db.prisma.checkpoint.findMany({
      where: { runId: run.id },
      orderBy: { step: "asc" },
    });
    expect(checkpoints.map((c) => c.step)).toEqual([25, 50, 75, 100]);
  });
});
