// Validation every N steps (stored and streamed), early stopping with the best checkpoint kept and
// exported, and an ASHA sweep that stops a known-bad learning-rate range at its first rung: the real
// single-process run manager, real onnxruntime, a real SQLite file.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase, RunStatus } from "../../src/db/index.ts";
import { checkpointAt, validationMetrics } from "../../src/db/learning.ts";
import { ValidationError } from "../../src/errors.ts";
import { promotes, rungSteps } from "../../src/runs/asha.ts";
import { createRunManager, type GradstreamRunManager } from "../../src/runs/manager.ts";
import { startSweep, sweepReport } from "../../src/runs/sweep.ts";
import type { RunEvent } from "../../src/runs/types.ts";
import { sweepTrials } from "../../src/schema/SweepTrial.ts";
import { decodeCheckpoint } from "../../src/train/checkpoint.ts";

const dir = mkdtempSync(join(tmpdir(), "gradstream-learning-"));
let db: Db;
let m: GradstreamRunManager;
const BLOBS = "blobs:samples=500,shape=10,classes=2,spread=1";

beforeAll(async () => {
  db = await openDatabase(`file:${join(dir, "learning.db")}`);
  // One run at a time: ASHA's decisions depend on the order trials reach a rung.
  m = await createRunManager({ db, maxConcurrent: 1 });
});
afterAll(async () => {
  await m.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function finished(id: number) {
  for await (const c of m.batches(id, -1)) if (c.final) break;
  return (await db.getRun(id))!;
}

describe("validation every N steps", () => {
  it("stores every evaluation and streams each as a RunValidationEvent, epoch ends included", async () => {
    const linear = await m.builtinModel("linear");
    const run = await m.start({
      modelId: linear.id,
      dataset: { spec: BLOBS },
      config: { batchSize: 10, epochs: 2, k: 5, validation: { fraction: 0.2, everySteps: 15 } },
    });
    const events = m.runEvents(run.id);
    const seen: RunEvent[] = [];
    const done = (async () => {
      for await (const e of events) {
        seen.push(e);
        if (e.kind === "status" && e.status === RunStatus.COMPLETED) break;
      }
    })();
    expect((await finished(run.id)).status).toBe(RunStatus.COMPLETED);
    await done;
    // 400 training samples, batch 10: 40 steps an epoch; evaluations after steps 15, 30, 45, 60, 75
    // and at both epoch ends (after steps 40 and 80), each at the last step trained before it.
    const stored = await validationMetrics(db, run.id);
    expect(stored.map((v) => v.step)).toEqual([14, 29, 39, 44, 59, 74, 79]);
    expect(stored.every((v) => v.samples === 100 && v.loss > 0 && v.accuracy >= 0 && v.accuracy <= 1)).toBe(
      true,
    );
    const streamed = seen.flatMap((e) => (e.kind === "validation" ? [e.validation] : []));
    // The database's REAL round trip may change the last binary digit of a float64.
    const near = (x: number) => Number(x.toPrecision(12));
    const shape = (v: { step: number; epoch: number; loss: number; accuracy: number; samples: number }) => [
      v.step,
      v.epoch,
      near(v.loss),
      near(v.accuracy),
      v.samples,
    ];
    expect(streamed.map(shape)).toEqual(stored.map(shape));
    // The epoch-end evaluation is the one the epoch summary carries.
    const epochs = await db.epochMetrics(run.id);
    expect(epochs.map((e) => near(e.valLoss ?? 0))).toEqual([near(stored[2].loss), near(stored[6].loss)]);
  });
});

describe("early stopping", () => {
  it("stops a run COMPLETED with its reason and step, keeps the best checkpoint and exports it", async () => {
    const linear = await m.builtinModel("linear");
    // minDelta 10 nats: no later evaluation can improve on the first, so the run stops after
    // patience (2) more evaluations: at step 29 of 80, with the best at step 9.
    const run = await m.start({
      modelId: linear.id,
      dataset: { spec: BLOBS },
      config: { batchSize: 10, epochs: 2, k: 5, validation: { fraction: 0.2, everySteps: 10 } },
      earlyStopping: { metric: "val_loss", patience: 2, minDelta: 10 },
    });
    const done = await finished(run.id);
    expect(done.status).toBe(RunStatus.COMPLETED);
    expect(done.stoppedAtStep).toBe(29);
    expect(done.lastStep).toBe(29);
    expect(done.bestStep).toBe(9);
    expect(done.stopReason).toMatch(
      /^early stopping: val_loss did not improve by more than 10 in 2 evaluations \(best .* at step 9\)$/,
    );
    expect(done.errorMessage).toBeNull();
    const best = await checkpointAt(db, run.id, 10);
    const last = await db.latestCheckpoint(run.id);
    expect(best).not.toBeNull();
    expect(last?.step).toBe(30);
    const exported = Buffer.from(await m.exportModel(run.id));
    const weights = (cp: { state: Uint8Array }) => {
      const t = decodeCheckpoint(cp.state).tensors;
      return Buffer.from(Object.values(t).reduce((a, b) => (a.length > b.length ? a : b)).buffer);
    };
    // The exported model carries the best checkpoint's weights, not the last one's.
    expect(exported.indexOf(weights(best!))).toBeGreaterThan(0);
    expect(exported.indexOf(weights(last!))).toBe(-1);
  });

  it("refuses settings that cannot work, naming the field, and creates no run", async () => {
    const linear = await m.builtinModel("linear");
    const before = (await db.listRuns({ first: 100 })).length;
    const start = (earlyStopping: unknown, validation: unknown = { fraction: 0.2 }) =>
      m.start({
        modelId: linear.id,
        dataset: { spec: BLOBS },
        config: { batchSize: 10, validation },
        earlyStopping,
      });
    await expect(start({ metric: "val_loss", patience: 0 })).rejects.toThrow(
      /earlyStopping.patience must be an integer from 1/,
    );
    await expect(start({ metric: "loss" })).rejects.toThrow(
      /earlyStopping.metric must be one of val_loss, val_accuracy, train_loss_smoothed/,
    );
    await expect(start({ metric: "val_accuracy" }, { fraction: 0 })).rejects.toThrow(ValidationError);
    await expect(start({ metric: "val_loss", minDelta: -1 })).rejects.toThrow(
      /minDelta must be a finite number ≥ 0/,
    );
    expect((await db.listRuns({ first: 100 })).length).toBe(before);
  });
});

describe("ASHA sweeps", () => {
  it("places rungs at minResource · ηᵏ and promotes the best ⌊n/η⌋ (at least one)", () => {
    expect(rungSteps({ minResource: 10, maxResource: 100, reductionFactor: 3 })).toEqual([10, 30, 90]);
    expect(promotes(0.5, [], { mode: "min", reductionFactor: 2 })).toBe(true);
    expect(promotes(0.9, [0.5], { mode: "min", reductionFactor: 2 })).toBe(false);
    expect(promotes(0.4, [0.5, 0.6, 0.7], { mode: "min", reductionFactor: 2 })).toBe(true);
    expect(promotes(0.55, [0.5, 0.6, 0.7], { mode: "min", reductionFactor: 2 })).toBe(true);
    expect(promotes(0.65, [0.5, 0.6, 0.7], { mode: "min", reductionFactor: 2 })).toBe(false);
  });

  it("stops the trials of a known-bad learning-rate range at the first rung and promotes a good one", async () => {
    const linear = await m.builtinModel("linear");
    const { sweep, runs } = await startSweep(m, db, {
      modelId: linear.id,
      dataset: { spec: BLOBS },
      base: {
        epochs: 2,
        batchSize: 10,
        k: 5,
        optimizer: { kind: "sgd", lr: 0.1 },
        validation: { fraction: 0.2 },
      },
      strategy: "grid",
      // 0.5 and 0.3 learn the blobs; 1e-6 and 1e-7 barely move from the initial weights.
      space: { lr: [0.5, 0.3, 1e-6, 1e-7] },
      asha: { metric: "val_loss", minResource: 20, maxResource: 80, reductionFactor: 2 },
    });
    const done = [];
    for (const r of runs) done.push(await finished(r.id));
    expect(done.map((r) => `${r.status} ${r.errorMessage ?? ""}`)).toEqual(Array(4).fill("COMPLETED "));
    const report = (await sweepReport(db, sweep.id))!;
    const trials = sweepTrials(report);
    // The first trial reaches rung 0 alone and goes on; both bad ones rank last there and stop.
    expect(trials[0]).toMatchObject({ rung: 1, promoted: true, stopped: false });
    expect(done[0].lastStep).toBe(79);
    for (const i of [2, 3]) {
      expect(trials[i]).toMatchObject({ rung: 0, promoted: false, stopped: true });
      expect(done[i].stoppedAtStep).toBe(19);
      expect(done[i].lastStep).toBe(19);
      expect(done[i].stopReason).toMatch(
        /^ASHA: stopped at rung 0 \(step 20\): val_loss .* ranked [34] of [34]/,
      );
    }
    expect(report.rungs.filter((r) => r.rung === 0).length).toBe(4);
  });
});
