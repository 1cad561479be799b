import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { BatchRow } from "../../src/db/types.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../../src/train/checkpoint.ts";
import { EXPERIMENTS, RunConfigError } from "../../src/train/config.ts";
import { encodeIdx } from "../../src/train/data/formats.ts";
import { DivergenceError, type EpochSummary, trainInline } from "../../src/train/runner.ts";
import { lrAt, validateSchedule } from "../../src/train/schedule.ts";

const model = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../models/${name}.onnx`, import.meta.url)));
const linear = model("linear");
const noTime = (r: BatchRow) => ({ ...r, timeMs: 0 });
const noEpochTime = (e: EpochSummary) => ({ ...e, timeMs: 0 });

const blobs = {
  dataset: "linear-blobs",
  optimizer: { kind: "sgd", lr: 0.01, momentum: 0.9 },
  batchSize: 10,
  epochs: 6,
  seed: 3,
  validation: { fraction: 0.2, everySteps: 7 },
};

describe("runner", () => {
  it("trains reference example 1 in-process: 10 epochs × 10 batches with steps, batches and samples in order", async () => {
    const r = await trainInline({ model: linear, config: EXPERIMENTS.linear.runs[0] });
    expect(r.rows).toHaveLength(100);
    expect(r.rows.map((x) => x.step)).toEqual([...Array(100).keys()]);
    expect(r.rows[37]).toMatchObject({ epoch: 3, batch: 7, samples: 380, lr: 0.01 });
    expect(r.epochs.map((e) => e.epoch)).toEqual([...Array(10).keys()]);
    expect(r.epochs.every((e) => e.batches === 10 && e.valAccuracy === null)).toBe(true);
    expect(r.rows.every((x) => Number.isFinite(x.loss) && x.loss > 0)).toBe(true);
    expect(r.end).toMatchObject({ status: "completed", lastStep: 99 });
    expect(r.end.checkpoint.step).toBe(100);
    expect(r.info).toMatchObject({ totalSteps: 100, batchesPerEpoch: 10, provider: "CPU" });
  });

  it("produces identical metrics whatever K is, including the partial last batch and every-N evaluations", async () => {
    // 80 training samples at batch 10 → no partial batch; use batch 12 → 7 batches, the last of 8.
    const config = { ...blobs, batchSize: 12 };
    const [a, b, c] = await Promise.all(
      [1, 4, 50].map((k) => trainInline({ model: linear, config: { ...config, k } })),
    );
    expect(a.rows).toHaveLength(42);
    expect(a.rows[6]).toMatchObject({ batch: 6, samples: 80 });
    for (const other of [b, c]) {
      expect(other.rows.map(noTime)).toEqual(a.rows.map(noTime));
      expect(other.epochs.map(noEpochTime)).toEqual(a.epochs.map(noEpochTime));
      expect(other.evals).toEqual(a.evals);
    }
    // Evaluations after steps 6 (every 7), 13, ... and at each epoch end (step 6, 13, ...) coincide here.
    expect(a.evals.map((e) => e.step)).toEqual([6, 13, 20, 27, 34, 41]);
  });

  it("trains on byte images kept as bytes exactly as on the same values stored as floats", async () => {
    // Unsigned-byte IDX images stay bytes in memory and are normalized as batches, evaluation batches
    // and noise-probe batches are read; float IDX images are normalized up front. With the same values
    // and standardization (statistics from the same numbers), every metric must agree bit for bit.
    const dir = mkdtempSync(join(tmpdir(), "gradstream-bytes-"));
    try {
      let seed = 7;
      const byte = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed >> 23;
      };
      const write = (name: string, n: number) => {
        const pixels = Uint8Array.from({ length: n * 784 }, byte);
        const labels = Uint8Array.from({ length: n }, (_, i) => (pixels[i * 784 + 400] + i) % 10);
        writeFileSync(join(dir, `${name}-u8.idx`), encodeIdx([n, 28, 28], pixels));
        writeFileSync(join(dir, `${name}-f32.idx`), encodeIdx([n, 28, 28], Float32Array.from(pixels)));
        writeFileSync(join(dir, `${name}-labels.idx`), encodeIdx([n], labels));
      };
      write("train", 96);
      write("test", 40);
      const run = (kind: "u8" | "f32") =>
        trainInline({
          model: model("mnist-cnn"),
          config: {
            dataset: {
              kind: "idx",
              images: join(dir, `train-${kind}.idx`),
              labels: join(dir, "train-labels.idx"),
              testImages: join(dir, `test-${kind}.idx`),
              testLabels: join(dir, "test-labels.idx"),
              normalize: "standardize",
            },
            optimizer: { kind: "adam", lr: 0.002 },
            batchSize: 16,
            epochs: 2,
            seed: 5,
            validation: { everySteps: 4 },
            noise: { every: 3, probeBatches: 2, masks: 2, gradBatches: 1 },
          },
        });
      const [bytes, floats] = [await run("u8"), await run("f32")];
      expect(bytes.rows).toHaveLength(12);
      expect(bytes.rows.filter((r) => r.custom).length).toBeGreaterThan(2);
      expect(bytes.evals.length).toBeGreaterThan(2);
      expect(bytes.rows.map(noTime)).toEqual(floats.rows.map(noTime));
      expect(bytes.evals).toEqual(floats.evals);
      expect(bytes.epochs.map(noEpochTime)).toEqual(floats.epochs.map(noEpochTime));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("resumes from a mid-epoch checkpoint with the same step numbering and the same metrics", async () => {
    const full = await trainInline({ model: linear, config: blobs, checkpointEvery: 13 });
    expect(full.checkpoints.map((c) => c.step)).toEqual([13, 26, 39]);
    const cp = full.checkpoints[1];
    expect(cp.epoch).toBe(3);
    const resumed = await trainInline({ model: linear, config: blobs, checkpoint: cp.state });
    expect(resumed.info.startStep).toBe(26);
    // The checkpoint carries the noise probe's state (its moving averages, the last clean loss, the
    // batch losses since the last probe), so every diagnostic after the resume is the same too: the
    // per-segment observed variance and drift, and the noise scale's moving average.
    expect(decodeCheckpoint(cp.state).noise?.losses.length).toBeGreaterThan(0);
    expect(resumed.rows.map(noTime)).toEqual(full.rows.slice(26).map(noTime));
    const probed = full.rows.slice(26).filter((r) => r.custom?.["noise.clean_loss"] !== undefined);
    expect(probed.length).toBeGreaterThan(0);
    for (const r of probed)
      expect(Object.keys(r.custom ?? {})).toEqual(
        expect.arrayContaining(["noise.observed_var", "noise.drift_var", "noise.b_simple"]),
      );
    expect(resumed.epochs.map(noEpochTime)).toEqual(full.epochs.slice(3).map(noEpochTime));
    expect(resumed.evals).toEqual(full.evals.filter((e) => e.step >= 26));
  });

  it("feeds the learning-rate schedule per step: each row's lr is the schedule's value at its step", async () => {
    const schedule = { kind: "cosine", warmup: { steps: 10, startFactor: 0.1 }, etaMin: 0.001 };
    const config = { ...EXPERIMENTS.linear.runs[0], k: 7, schedule };
    const r = await trainInline({ model: linear, config });
    const spec = validateSchedule(schedule);
    expect(r.rows.map((x) => x.lr)).toEqual(r.rows.map((x) => lrAt(spec, 0.01, x.step, 100)));
    expect(r.rows[0].lr).toBeCloseTo(0.001, 12);
    expect(r.rows[10].lr).toBeCloseTo(0.01, 12);
    expect(r.rows[99].lr).toBeLessThan(0.0011);
  });

  it("checkpoints by wall time at chunk ends when asked (interval 0: after every chunk but the last)", async () => {
    const r = await trainInline({
      model: linear,
      config: { ...EXPERIMENTS.linear.runs[0], k: 10 },
      checkpointIntervalMs: 0,
    });
    expect(r.checkpoints.map((c) => c.step)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(r.end.checkpoint.step).toBe(100);
  });

  it("round-trips a checkpoint's tensors, step and epoch accumulator bit for bit", () => {
    const tensors = { w: Float32Array.of(1.5, -2, Number.MIN_VALUE), b: Float32Array.of(3) };
    const acc = {
      lossSum: 1,
      lossSqSum: 2,
      lossMin: 0.5,
      lossMax: 0.7,
      accuracySum: 3,
      samples: 4,
      batches: 1,
      timeMs: 2,
    };
    const back = decodeCheckpoint(encodeCheckpoint({ step: 7, epoch: 1, tensors, epochAcc: acc }));
    expect(back).toEqual({ step: 7, epoch: 1, tensors, epochAcc: acc, noise: null });
    // with the noise probe's state: its scalars exactly, its losses bit for bit
    const noise = {
      scale: { g2: 0.1 + 0.2, tr: 1e-30, n: 3 },
      lastClean: Math.fround(0.7),
      losses: Float32Array.of(0.25, Math.fround(0.1), 3e38),
    };
    expect(decodeCheckpoint(encodeCheckpoint({ step: 7, epoch: 1, tensors, epochAcc: null, noise }))).toEqual(
      { step: 7, epoch: 1, tensors, epochAcc: null, noise },
    );
    expect(() => decodeCheckpoint(new Uint8Array(20))).toThrow(/not a gradstream checkpoint/);
  });

  it("stops between chunks when aborted and returns a checkpoint that resumes at the next step", async () => {
    const ac = new AbortController();
    const r = await trainInline(
      { model: linear, config: { ...EXPERIMENTS.linear.runs[0], k: 10 } },
      {
        signal: ac.signal,
        onChunk: (c) => {
          if (c.rows[c.rows.length - 1].step >= 29) ac.abort();
        },
      },
    );
    expect(r.end.status).toBe("aborted");
    expect(r.end.lastStep).toBe(29);
    expect(r.rows).toHaveLength(30);
    expect(r.end.checkpoint.step).toBe(30);
  });

  it("fails with the step at which the loss became NaN, after handing over the finite rows before it", async () => {
    const mlp = model("mnist-mlp");
    const seen: number[] = [];
    const err = await trainInline(
      {
        model: mlp,
        config: {
          dataset: "blobs:samples=200,shape=1x28x28,classes=10,spread=0.5",
          optimizer: { kind: "sgd", lr: 100 },
          batchSize: 20,
          epochs: 3,
        },
      },
      { onChunk: (c) => void seen.push(...c.rows.map((x) => x.step)) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    const d = err as DivergenceError;
    expect(d.message).toBe(`loss became NaN at step ${d.step}`);
    expect(seen).toEqual([...Array(d.step).keys()]);
  });

  it("rejects bad configurations with a message naming the field and what is accepted", async () => {
    const base = EXPERIMENTS.linear.runs[0];
    await expect(trainInline({ model: linear, config: { ...base, batchSize: 101 } })).rejects.toThrow(
      /batchSize must be an integer between 1 and the training set size 100, got 101/,
    );
    await expect(trainInline({ model: linear, config: { ...base, optimizer: "lbfgs" } })).rejects.toThrow(
      RunConfigError,
    );
    await expect(trainInline({ model: linear, config: { ...base, epochs: 0 } })).rejects.toThrow(
      /epochs must be an integer between 1 and 10000, got 0/,
    );
    await expect(
      trainInline({ model: linear, config: { ...base, dataset: "synthetic:samples=50,shape=12,classes=2" } }),
    ).rejects.toThrow(/dataset samples have shape \[12\] but model input/);
  });

  it("learns the MNIST digits with the MLP: at least 90% held-out accuracy after 2 epochs", async () => {
    const cfg = { ...EXPERIMENTS["mnist-mlp"].runs[0], epochs: 2 };
    const r = await trainInline({ model: model("mnist-mlp"), config: cfg });
    expect(r.info.validationSamples).toBe(1000);
    expect(r.epochs).toHaveLength(2);
    expect(r.epochs[1].valAccuracy).toBeGreaterThanOrEqual(0.9);
  });
});
