import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchRow, type Db, openDatabase, RunStatus } from "../../src/db/index.ts";
import { createRunManager, type GradstreamRunManager } from "../../src/runs/manager.ts";
import type { BatchChunkEvent, RunEvent, RunProgress, RunsChangedEvent } from "../../src/runs/types.ts";
import { RunConfigError } from "../../src/train/config.ts";
import { createSession } from "../../src/train/session.ts";

const dir = mkdtempSync(join(tmpdir(), "gradstream-manager-"));
let n = 0;
const newDb = () => openDatabase(`file:${join(dir, `m-${++n}.db`)}`);

/** Every chunk of a run's stream until the final one. */
async function collect(
  it: AsyncIterableIterator<BatchChunkEvent>,
  onChunk?: (c: BatchChunkEvent) => void | Promise<void>,
): Promise<BatchChunkEvent[]> {
  const out: BatchChunkEvent[] = [];
  for await (const c of it) {
    out.push(c);
    await onChunk?.(c);
    if (c.final) break;
  }
  return out;
}

const steps = (chunks: BatchChunkEvent[]) => chunks.flatMap((c) => c.rows.map((r) => r.step));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const noTime = (r: BatchRow) => ({ ...r, timeMs: 0 });

describe("run manager", () => {
  let db: Db;
  let m: GradstreamRunManager;

  beforeAll(async () => {
    db = await newDb();
    m = await createRunManager({ db, maxConcurrent: 2, checkpointEvery: 20 });
  });
  afterAll(async () => {
    await m.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("describes a built-in model it registers by its forward graph's nodes, as an upload is described", async () => {
    // Model.opSummary once counted the compiled training graph's ops when the manager created the row.
    expect((await m.builtinModel("linear")).opSummary).toEqual({ Gemm: 1 });
    expect((await m.builtinModel("cnn")).opSummary).toEqual({
      Conv: 2,
      Relu: 3,
      MaxPool: 2,
      Constant: 3,
      Reshape: 1,
      Gemm: 2,
      Dropout: 1,
    });
  });

  it("runs the three reference experiments to completion with exactly the expected batches and epochs", async () => {
    const linear = await m.startExperiment("linear");
    const bs = await m.startExperiment("batch-size");
    const cnn = await m.startExperiment("cnn-dropout");
    expect([...linear, ...bs, ...cnn].map((r) => r.status)).toEqual(Array(4).fill(RunStatus.QUEUED));
    const expected = [
      [linear[0], 100, 10],
      [bs[0], 100, 1],
      [bs[1], 10, 1],
      [cnn[0], 64, 2],
    ] as const;
    for (const [run, total, epochs] of expected) {
      const chunks = await collect(m.batches(run.id, -1));
      expect(steps(chunks)).toEqual(range(0, total));
      expect(chunks[chunks.length - 1]).toMatchObject({ final: true, rows: [] });
      const row = await db.getRun(run.id);
      expect(row).toMatchObject({
        status: RunStatus.COMPLETED,
        stepsCompleted: total,
        lastStep: total - 1,
        totalSteps: total,
        epochsCompleted: epochs,
        providerUsed: "CPU",
        // two runs at a time: each trains on its half of the cores
        threads: Math.max(1, Math.floor(availableParallelism() / 2)),
      });
      expect((await db.epochMetrics(run.id)).map((e) => e.batches)).toEqual(
        Array(epochs).fill(total / epochs),
      );
    }
    expect(await m.progress(cnn[0].id)).toMatchObject({ step: 64, totalSteps: 64, epoch: 2, etaSeconds: 0 });
  });

  it("learns the linear-blobs twin: validation accuracy well above chance, with status and epoch events", async () => {
    const [run] = await m.startExperiment("linear-blobs");
    const events: RunEvent[] = [];
    for await (const e of m.runEvents(run.id)) {
      events.push(e);
      if (e.kind === "status" && e.status === RunStatus.COMPLETED) break;
    }
    const kinds = events.map((e) => (e.kind === "status" ? e.status : e.kind));
    // Each epoch end stores an evaluation: its summary, then the RunValidationEvent.
    expect(kinds).toEqual([
      RunStatus.RUNNING,
      ...Array(10).fill(["epoch", "validation"]).flat(),
      RunStatus.COMPLETED,
    ]);
    await collect(m.batches(run.id, -1));
    const done = await db.getRun(run.id);
    expect(done?.status).toBe(RunStatus.COMPLETED);
    expect(done?.bestValAccuracy).toBeGreaterThanOrEqual(0.9);
    const epochs = await db.epochMetrics(run.id);
    expect(epochs).toHaveLength(10);
    expect(epochs[9].valAccuracy).toBeGreaterThan(0.8);
  });

  it("gives a subscriber that joins mid-run from afterStep every later step exactly once (replay, then live)", async () => {
    const model = await m.builtinModel("linear");
    const run = await m.start({
      modelId: model.id,
      dataset: { spec: "batch-size" },
      config: { optimizer: { kind: "sgd", lr: 0.01 }, batchSize: 10, epochs: 2, k: 1 },
    });
    let late: Promise<BatchChunkEvent[]> | null = null;
    let midway: RunProgress | null = null;
    const early = await collect(m.batches(run.id, -1), async (c) => {
      if (!late && c.lastStep >= 60) {
        late = collect(m.batches(run.id, 37));
        midway = await m.progress(run.id);
      }
    });
    // While running: steps done, the rate over recent chunks and the time left.
    const p = midway as unknown as RunProgress;
    expect(p.totalSteps).toBe(200);
    expect(p.step).toBeGreaterThanOrEqual(61);
    expect(p.samplesPerSecond).toBeGreaterThan(0);
    expect(p.etaSeconds).toBeGreaterThanOrEqual(0);
    expect(steps(early)).toEqual(range(0, 200));
    expect(late).not.toBeNull();
    const lateChunks = await (late as unknown as Promise<BatchChunkEvent[]>);
    expect(steps(lateChunks)).toEqual(range(38, 200));
    // Chunks of K=1 arrive live one per event; the replayed part comes in bigger pages.
    expect(lateChunks.length).toBeLessThan(162);
    // Replaying a finished run from the middle.
    expect(steps(await collect(m.batches(run.id, 189)))).toEqual(range(190, 200));
  });

  it("cancels a running run within a chunk, recording its last step, and resumes it to the same metrics", async () => {
    const model = await m.builtinModel("linear");
    const config = { optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9 }, batchSize: 10, epochs: 3, k: 2 };
    const run = await m.start({ modelId: model.id, dataset: { spec: "batch-size-blobs" }, config });
    let cancelled: Promise<unknown> | null = null;
    const first = await collect(m.batches(run.id, -1), (c) => {
      if (!cancelled && c.lastStep >= 41) cancelled = m.cancel(run.id);
    });
    await cancelled;
    const stopped = await db.getRun(run.id);
    expect(stopped?.status).toBe(RunStatus.CANCELLED);
    expect(stopped?.lastStep).toBe(steps(first).at(-1));
    expect(stopped?.lastStep).toBeLessThan(300 - 1);
    expect((await db.latestCheckpoint(run.id))?.step).toBe((stopped?.lastStep ?? 0) + 1);

    const resumed = await m.resume(run.id);
    expect(resumed.status).toBe(RunStatus.QUEUED);
    await collect(m.batches(run.id, stopped?.lastStep ?? 0));
    expect(await db.getRun(run.id)).toMatchObject({ status: RunStatus.COMPLETED, stepsCompleted: 300 });

    const twin = await m.start({ modelId: model.id, dataset: { spec: "batch-size-blobs" }, config });
    await collect(m.batches(twin.id, -1));
    const a = await db.batchMetricsPage(run.id, -1, 1000);
    const b = await db.batchMetricsPage(twin.id, -1, 1000);
    // The noise probe's per-segment values (observed variance, drift, the B_noise EMA) start over at a
    // resume; what it measures at the parameters is the same, at the same steps.
    const noCustom = (r: BatchRow) => ({ ...noTime(r), custom: undefined });
    expect(a.rows.map(noCustom)).toEqual(b.rows.map(noCustom));
    const atParams = (rows: BatchRow[]) =>
      rows
        .filter((r) => r.custom?.["noise.g2"] !== undefined)
        .map((r) => [
          r.step,
          r.custom?.["noise.clean_loss"],
          r.custom?.["noise.g2"],
          r.custom?.["noise.trace_sigma"],
        ]);
    expect(atParams(a.rows)).toEqual(atParams(b.rows));
    expect(atParams(b.rows).length).toBeGreaterThan(0);
    const ea = (await db.epochMetrics(run.id)).map((e) => [e.trainLoss, e.valAccuracy]);
    const eb = (await db.epochMetrics(twin.id)).map((e) => [e.trainLoss, e.valAccuracy]);
    expect(ea).toEqual(eb);
  });

  it("fails a diverging run with the step where the loss became NaN, keeping the finite rows before it", async () => {
    const model = await m.builtinModel("mnist-mlp");
    const run = await m.start({
      modelId: model.id,
      dataset: { spec: "blobs:samples=200,shape=1x28x28,classes=10,spread=0.5" },
      config: { optimizer: { kind: "sgd", lr: 100 }, batchSize: 20, epochs: 3 },
    });
    const chunks = await collect(m.batches(run.id, -1));
    const failed = await db.getRun(run.id);
    expect(failed?.status).toBe(RunStatus.FAILED);
    expect(failed?.errorMessage).toBe(`loss became NaN at step ${failed?.failedAtStep}`);
    expect(steps(chunks)).toEqual(range(0, failed?.failedAtStep ?? -1));
  });

  it("exports the trained inference model, which onnxruntime runs on one sample", async () => {
    const [run] = await m.startExperiment("linear");
    await collect(m.batches(run.id, -1));
    const bytes = await m.exportModel(run.id);
    const s = await createSession(bytes);
    const out = await s.run({ input: { dims: [1, 10], data: new Float32Array(10).fill(0.5) } });
    await s.release();
    expect(Object.values(out)[0].dims).toEqual([1, 2]);
  });

  it("rejects bad requests with clear errors and creates nothing", async () => {
    const model = await m.builtinModel("linear");
    const before = (await db.listRuns({ first: 1000 })).length;
    const start = (config: unknown, spec: unknown = "linear") =>
      m.start({ modelId: model.id, dataset: { spec }, config }).catch((e: unknown) => (e as Error).message);
    expect(await start({ batchSize: 101 })).toMatch(
      /batchSize must be an integer between 1 and the training set size 100/,
    );
    expect(await start({ batchSize: 10, provider: "CUDA" })).toMatch(/^CUDA is not usable here .*cuda12/);
    expect(await start({ batchSize: 10, optimizer: "lbfgs" })).toMatch(
      /optimizer.kind must be one of sgd, adam/,
    );
    expect(await start({ batchSize: 10 }, "cnn-dropout")).toMatch(
      /takes inputs of shape \[10\] but the dataset.s samples have shape \[3,32,32\]/,
    );
    const err = await m
      .start({ modelId: model.id, dataset: { spec: "csv:path=/nonexistent.csv" }, config: { batchSize: 1 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunConfigError);
    expect((err as Error).message).toMatch(/file not found: \/nonexistent.csv/);
    expect(await m.startExperiment("nope").catch((e: unknown) => (e as Error).message)).toMatch(
      /unknown experiment "nope"; experiments: linear, batch-size/,
    );
    expect(await m.cancel(999_999).catch((e: unknown) => (e as Error).message)).toBe("unknown run id 999999");
    expect(
      await m
        .batches(999_999, -1)
        .next()
        .catch((e: unknown) => (e as Error).message),
    ).toBe("unknown run id 999999");
    expect(
      await m
        .runEvents(999_999)
        .next()
        .catch((e: unknown) => (e as Error).message),
    ).toBe("unknown run id 999999");
    expect((await db.listRuns({ first: 1000 })).length).toBe(before);
  });

  it("deletes a run with its rows and announces it", async () => {
    const changes = m.runsChanged();
    const [run] = await m.startExperiment("linear");
    await collect(m.batches(run.id, -1));
    expect(await m.delete(run.id)).toBe(true);
    expect(await db.getRun(run.id)).toBeNull();
    expect(await m.delete(run.id)).toBe(false);
    const seen: RunsChangedEvent[] = [];
    for await (const e of changes) {
      if (e.runId === run.id) seen.push(e);
      if (e.kind === "deleted") break;
    }
    expect(seen.map((e) => e.kind)).toEqual(["created", "started", "finished", "deleted"]);
  });

  it("lists the execution providers with CPU available", async () => {
    const p = await m.providers();
    expect(p.map((x) => [x.name, x.name === "CPU" ? x.available : typeof x.available])).toEqual([
      ["CPU", true],
      ["CUDA", "boolean"],
      ["WEBGPU", "boolean"],
    ]);
  });
});

describe("run manager lifecycle across restarts", () => {
  it("starts queued runs in FIFO order one at a time with a limit of 1", async () => {
    const db = await newDb();
    const m = await createRunManager({ db, maxConcurrent: 1 });
    const changes = m.runsChanged();
    const runs = [...(await m.startExperiment("batch-size")), ...(await m.startExperiment("linear"))];
    const order: [string, number][] = [];
    for await (const e of changes) {
      if (e.kind === "started" || e.kind === "finished") order.push([e.kind, e.runId]);
      if (order.length === 6) break;
    }
    expect(order).toEqual(runs.flatMap((r) => [["started", r.id] as const, ["finished", r.id] as const]));
    await m.close();
    await db.close();
  });

  it("checkpoints a running run on close, leaves it INTERRUPTED with its stream ended, and a new manager resumes it", async () => {
    const url = `file:${join(dir, `restart-${++n}.db`)}`;
    let db = await openDatabase(url);
    let m = await createRunManager({ db, maxConcurrent: 1 });
    const [cnn] = await m.startExperiment("cnn-dropout");
    const [queued] = await m.startExperiment("linear");
    let closed: Promise<void> | null = null;
    const first = await collect(m.batches(cnn.id, -1), (c) => {
      if (!closed && c.lastStep >= 9) closed = m.close();
    });
    await closed;
    const interrupted = await db.getRun(cnn.id);
    expect(interrupted?.status).toBe(RunStatus.INTERRUPTED);
    expect(first[first.length - 1].final).toBe(true);
    expect((await db.latestCheckpoint(cnn.id))?.step).toBe((interrupted?.lastStep ?? -2) + 1);
    expect((await db.getRun(queued.id))?.status).toBe(RunStatus.QUEUED);
    await db.close();

    db = await openDatabase(url);
    m = await createRunManager({ db, maxConcurrent: 1 });
    // The queued run is picked up again at start; the interrupted one on request.
    await collect(m.batches(queued.id, -1));
    expect((await db.getRun(queued.id))?.status).toBe(RunStatus.COMPLETED);
    await m.resume(cnn.id);
    const rest = await collect(m.batches(cnn.id, interrupted?.lastStep ?? 0));
    expect(steps(rest)).toEqual(range((interrupted?.lastStep ?? 0) + 1, 64));
    expect(await db.getRun(cnn.id)).toMatchObject({ status: RunStatus.COMPLETED, stepsCompleted: 64 });
    await m.close();
    await db.close();
  });
});
