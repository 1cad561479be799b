import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { BatchRow } from "../../src/db/types.ts";
import { EXPERIMENTS, RunConfigError } from "../../src/train/config.ts";
import { DivergenceError, type TrainChunk, type TrainEnd } from "../../src/train/runner.ts";
import { startTraining, type TrainingRun } from "../../src/train/thread.ts";

const model = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../models/${name}.onnx`, import.meta.url)));
const linear = model("linear");
const noTime = (r: BatchRow) => ({ ...r, timeMs: 0 });

async function drain(
  run: TrainingRun,
  onChunk?: (c: TrainChunk) => void,
): Promise<{ rows: BatchRow[]; end: TrainEnd }> {
  const rows: BatchRow[] = [];
  for (;;) {
    const r = await run.chunks.next();
    if (r.done) return { rows, end: r.value };
    rows.push(...r.value.rows);
    onChunk?.(r.value);
  }
}

describe("training thread", () => {
  const config = { ...EXPERIMENTS["linear-blobs"].runs[0], k: 3 };

  it("yields in a worker thread exactly the rows the in-thread runner yields", async () => {
    const [worker, inline] = await Promise.all([
      startTraining({ model: linear, config }).then((r) => drain(r)),
      startTraining({ model: linear, config }, { inline: true }).then((r) => drain(r)),
    ]);
    expect(worker.rows).toHaveLength(80);
    expect(worker.rows.map(noTime)).toEqual(inline.rows.map(noTime));
    expect(worker.end.status).toBe("completed");
    expect(worker.end.checkpoint.state).toEqual(inline.end.checkpoint.state);
  });

  it("never lets the worker get more than one chunk ahead of an unacknowledged chunk", async () => {
    const run = await startTraining({ model: linear, config: { ...EXPERIMENTS.linear.runs[0], k: 1 } });
    const first = await run.chunks.next();
    expect(first.done).toBe(false);
    // Holding chunk 0 unacknowledged: chunk 1 may be computed, chunk 2 may not start. Wait until chunk 1
    // arrived, then give the worker ample time to (wrongly) run further; the bound holds at any moment.
    for (let i = 0; i < 500 && run.buffered() < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(run.buffered()).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(run.buffered()).toBe(1);
    const { rows } = await drain(run);
    expect(rows.length + 1).toBe(100);
  });

  it("stops the worker between chunks on abort and hands back a checkpoint at the last trained step", async () => {
    const ac = new AbortController();
    const run = await startTraining({ model: linear, config: { ...config, k: 5 } }, { signal: ac.signal });
    const { rows, end } = await drain(run, (c) => {
      // Chunks of K=5 within 8-batch epochs: steps 0–4, 5–7, 8–12, 13–15, …
      if (c.rows[c.rows.length - 1].step === 12) ac.abort();
    });
    expect(end.status).toBe("aborted");
    // The worker may have finished one more chunk while the abort travelled (the two-chunk window).
    expect([13, 16]).toContain(rows.length);
    expect(end.lastStep).toBe(rows.length - 1);
    expect(end.checkpoint.step).toBe(rows.length);
  });

  it("carries a divergence across the thread boundary as a DivergenceError with its step", async () => {
    const run = await startTraining({
      model: model("mnist-mlp"),
      config: {
        dataset: "blobs:samples=200,shape=1x28x28,classes=10,spread=0.5",
        optimizer: { kind: "sgd", lr: 100 },
        batchSize: 20,
        epochs: 3,
      },
    });
    const err = await drain(run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    expect((err as DivergenceError).message).toMatch(/^loss became NaN at step \d+$/);
  });

  it("rejects a bad configuration before training with a RunConfigError from the worker", async () => {
    const err = await startTraining({ model: linear, config: { ...config, batchSize: 0 } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RunConfigError);
    expect((err as Error).message).toMatch(/^batchSize must be an integer between 1 and/);
  });
});
