// Stopping a training thread while onnxruntime is inside session.run must not abort the process
// (worker.terminate() at that moment throws a Napi::Error that kills the whole server; this is what a
// failed batch write mid-run used to trigger).
import { describe, expect, it } from "vitest";
import { builtinModelBytes } from "../../src/train/catalog.ts";
import { EXPERIMENTS } from "../../src/train/config.ts";
import { startTraining } from "../../src/train/thread.ts";

describe("stopping a training thread", () => {
  it("stops it mid-chunk at several moments and the process carries on training", async () => {
    const e = EXPERIMENTS["cnn-dropout"];
    const stopped: number[] = [];
    for (const delayMs of [0, 15, 45]) {
      const t = await startTraining({ model: builtinModelBytes(e.model), config: e.runs[0], threads: 1 });
      const first = await t.chunks.next();
      expect(first.done).toBe(false);
      // The thread is computing the next chunks now (two ahead of the acknowledgements).
      await new Promise((r) => setTimeout(r, delayMs));
      await t.terminate();
      stopped.push(delayMs);
    }
    expect(stopped).toEqual([0, 15, 45]);
    const again = await startTraining({ model: builtinModelBytes(e.model), config: e.runs[0], threads: 1 });
    const r = await again.chunks.next();
    expect(r.done ? null : r.value.rows[0].step).toBe(0);
    await again.terminate();
  });
});
