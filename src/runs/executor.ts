// Training from this process: one trainer per running run (a child process by default, or a worker
// thread: src/train/thread.ts) and the persist-then-publish loop that turns its chunks into database
// rows and events. A trainer that dies (abort, segfault, OOM kill) fails its run with the cause. Which runs it trains, and when,
// is the queue's business (queue.ts); how a run's end is recorded is the manager's (finish).
//
// Orderings the streams rely on (src/runs/stream.ts):
//   1. RUNNING is committed before the first chunk is written;
//   2. each chunk is committed (db.writeBatchChunk resolved) before it is published, and published
//      before the training thread is acknowledged (which bounds it to two chunks ahead);
//   3. the terminal status is committed before the final (empty) chunk is published (finish).
import type { Db, EpochRow, JsonObject, ModelInfo, Run } from "../db/index.ts";
import { RunStatus } from "../db/index.ts";
import { readModelFile } from "../train/catalog.ts";
import { validateRunConfig } from "../train/config.ts";
import { isTrainerCrash } from "../train/process.ts";
import { requireProvider } from "../train/providers.ts";
import { DivergenceError, type EpochSummary, type TrainEnd } from "../train/runner.ts";
import { prepareTrainers, startTraining, type TrainingRun } from "../train/thread.ts";
import type { Alerter } from "./alerts.ts";
import type { RunEvents } from "./events.ts";
import { RunLearning, type StopVerdict } from "./learning.ts";
import { type ActiveRun, newActiveRun, recordChunk, type StopReason } from "./progress.ts";
import { SampleBuffer } from "./system-samples.ts";

/** The reason a graceful shutdown leaves on its runs (RESUME_ON_START resumes those, too). */
export const SHUTDOWN_MESSAGE = "interrupted: the server shut down; resume to continue";
export type Finish = (
  runId: number,
  status: RunStatus,
  error: string | null,
  failedAtStep: number | null,
) => Promise<Run>;

export interface ExecutorOptions {
  /** Checkpoint every N steps; null: only at the end, on cancel, on shutdown and every interval. */
  checkpointEvery: number | null;
  /** Also checkpoint when this many ms passed since the last one (bounds what a crash loses). */
  checkpointIntervalMs: number | null;
  /** Cores per run (⌊cores / maxConcurrent⌋): synthetic data is generated on as many threads. */
  cores: number;
  /** onnxruntime intra-op threads per run. */
  threads: number;
  /** Idle onnxruntime threads spin-wait (RunManagerOptions.spinning). */
  spinning: boolean;
  /** A child process per run (a native crash fails only that run) or a worker thread. */
  isolation: "process" | "thread";
}

/** The forward ONNX bytes of a Model row (stored, or the file it names). */
export async function modelBytes(db: Db, model: ModelInfo): Promise<Uint8Array> {
  const stored = await db.modelOnnx(model.id);
  if (stored) return stored;
  if (model.path) return readModelFile(model.path);
  throw new Error(`model ${model.id} (${model.name}) has neither ONNX bytes nor a path`);
}

/** Run.hyperparameters without the `dropout` flag (not a runner config field), and that flag. */
export function splitDropout(hp: unknown): { config: JsonObject; dropout: boolean } {
  const { dropout, ...config } = hp as JsonObject;
  return { config, dropout: dropout !== false };
}

function toEpochRow(e: EpochSummary): EpochRow {
  const { epoch, trainLoss, trainAccuracy, valLoss, valAccuracy, batches, timeMs } = e;
  return { epoch, trainLoss, trainAccuracy, valLoss, valAccuracy, batches, timeMs };
}

export class Executor {
  readonly active = new Map<number, ActiveRun>();

  constructor(
    private readonly db: Db,
    private readonly events: RunEvents,
    private readonly options: ExecutorOptions,
    private readonly finish: Finish,
    /** Called when a launched run has ended here (its thread is gone): room for another. */
    private readonly ended: (runId: number) => void,
    private readonly alerter: Alerter | null = null,
  ) {
    prepareTrainers(options.isolation);
  }

  running(): number[] {
    return [...this.active.keys()];
  }

  /** Trains a run in this process (a thread). */
  launch(runId: number): void {
    const a = newActiveRun();
    this.active.set(runId, a);
    a.done = this.execute(runId, a)
      .catch((err: unknown) => {
        // Only a database failure while finishing lands here; the run stays as the database has it.
        console.error(`gradstream: run ${runId}: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        this.active.delete(runId);
        this.ended(runId);
      });
  }

  /** Stops a run training here; resolves once it has ended (and its status was recorded, unless lost). */
  async stop(runId: number, reason: StopReason | null): Promise<void> {
    const a = this.active.get(runId);
    if (!a) return;
    if (reason) a.reason ??= reason;
    a.controller.abort();
    await a.done;
  }

  async stopAll(reason: StopReason): Promise<void> {
    await Promise.all(this.running().map((id) => this.stop(id, reason)));
  }

  private async execute(runId: number, a: ActiveRun): Promise<void> {
    const run = await this.db.getRun(runId);
    if (!run) return; // deleted while queued
    let end: TrainEnd | null = null;
    let training: TrainingRun | null = null;
    // Set when early stopping or an ASHA rung ends the run: chunks the thread trained after it are dropped.
    let stopped: StopVerdict | null = null;
    const samples = new SampleBuffer();
    // A chunk's checkpoint is written while the next chunk is awaited: pulling that chunk acknowledges
    // this one (protocol.ts), and a trainer held back until a CNN-sized checkpoint was durable stalled
    // for 10–114 ms at each one. The write is awaited before anything else is stored, and the writer
    // keeps order, so nothing is stored after a checkpoint that is not yet durable; a failed write
    // still fails the run. (A crash before it lands resumes from the checkpoint before, as any crash
    // between checkpoints does.)
    let checkpointing: Promise<void> | null = null;
    const checkpointed = async () => {
      const p = checkpointing;
      checkpointing = null;
      await p;
    };
    try {
      const begun = await this.begin(run, a);
      training = begun.training;
      if (a.totalSteps !== run.totalSteps) await this.db.updateRun(runId, { totalSteps: a.totalSteps });
      for (;;) {
        const r = await training.chunks.next();
        await checkpointed();
        if (r.done) {
          end = r.value;
          break;
        }
        const c = r.value;
        if (stopped) continue;
        if (c.rows.length) {
          // the noise probe's values ride on their step's row as custom metrics (stored and streamed)
          const noise = c.noise;
          const row = noise ? c.rows.find((r) => r.step === noise.step) : undefined;
          if (row && noise) row.custom = noise.values;
          const custom = Object.entries(row?.custom ?? {}).map(([name, value]) => ({
            step: noise?.step ?? 0,
            name,
            value,
          }));
          await this.db.writeBatchChunk(runId, c.rows, custom);
          const last = c.rows[c.rows.length - 1];
          const sample = c.system ? samples.add(c.rows[0].step, last.step, c.system) : null;
          const system = sample ? [sample] : [];
          if (sample) await this.db.writeSystemMetric(runId, sample);
          this.events.chunk({ runId, rows: c.rows, lastStep: last.step, final: false, system });
          recordChunk(a, last);
        }
        if (c.epoch) {
          const epoch = toEpochRow(c.epoch);
          await this.db.writeEpoch(runId, epoch);
          this.events.epoch(runId, epoch);
        }
        if (c.checkpoint) {
          checkpointing = this.db.saveCheckpoint(runId, c.checkpoint);
          // awaited at the top of the next turn (or below); until then a rejection is not unhandled
          checkpointing.catch(() => {});
        }
        stopped = await begun.learning.chunk(c);
        if (stopped) a.controller.abort();
      }
      await checkpointed();
      if (stopped) {
        if (stopped.checkpoint) await this.db.saveCheckpoint(runId, stopped.checkpoint);
        await this.db.updateRun(runId, {
          stopReason: stopped.reason,
          stoppedAtStep: stopped.lastStep,
          bestStep: begun.learning.bestStep,
        });
      } else await this.db.saveCheckpoint(runId, end.checkpoint);
      const rest = samples.flush();
      if (rest) await this.db.writeSystemMetric(runId, rest);
    } catch (err) {
      // A failed write leaves the training thread waiting for its acknowledgement: stop it.
      await training?.terminate();
      // a checkpoint still being written lands (or fails) before the run's end is recorded
      await checkpointed().catch(() => {});
      const message = err instanceof Error ? err.message : String(err);
      // A trainer that died (signal or exit code) failed at the first step not stored.
      const step = err instanceof DivergenceError ? err.step : isTrainerCrash(err) ? a.step : null;
      if ((await this.db.getRun(runId)) === null) return;
      await this.finish(runId, RunStatus.FAILED, message, step);
      return;
    }
    if ((await this.db.getRun(runId)) === null) return;
    if (end.status === "completed" || stopped) await this.finish(runId, RunStatus.COMPLETED, null, null);
    else if (a.reason === "shutdown") await this.finish(runId, RunStatus.INTERRUPTED, SHUTDOWN_MESSAGE, null);
    else await this.finish(runId, RunStatus.CANCELLED, a.reason === "delete" ? "deleted" : "cancelled", null);
  }

  /** Commits RUNNING and starts the thread from the latest checkpoint (same step numbers). */
  private async begin(run: Run, a: ActiveRun): Promise<{ training: TrainingRun; learning: RunLearning }> {
    // Only TRAINED runs reach here; an EXTERNAL run's null ids would mean it lost them just the same.
    const model = run.modelId === null ? null : await this.db.getModel(run.modelId);
    const dataset = run.datasetId === null ? null : await this.db.getDataset(run.datasetId);
    if (!model || !dataset) throw new Error(`run ${run.id} lost its model or dataset`);
    const hp = splitDropout(run.hyperparameters);
    const config = { ...hp.config, dataset: dataset.parameters };
    const cfg = validateRunConfig(config);
    await requireProvider(cfg.provider);
    const checkpoint = await this.db.latestCheckpoint(run.id);
    const context = { db: this.db, events: this.events, alerter: this.alerter };
    const learning = await RunLearning.create(context, run, cfg, checkpoint?.step ?? 0);
    const started = await this.db.updateRun(run.id, {
      status: RunStatus.RUNNING,
      startedAt: run.startedAt ?? new Date(),
      providerUsed: cfg.provider,
      // what the trainer's sessions get (TrainJob.threads): a run's losses depend on the count
      threads: this.options.threads,
      errorMessage: null,
      failedAtStep: null,
    });
    this.events.statusOf(started);
    this.events.changed("started", run.id, RunStatus.RUNNING);
    const training = await startTraining(
      {
        model: await modelBytes(this.db, model),
        config,
        checkpoint: checkpoint?.state ?? null,
        checkpointEvery: this.options.checkpointEvery,
        checkpointIntervalMs: this.options.checkpointIntervalMs,
        cores: this.options.cores,
        threads: this.options.threads,
        spinning: this.options.spinning,
        dropout: hp.dropout,
        checkpointAtEvaluations: learning.wantsEvalCheckpoints,
      },
      { signal: a.controller.signal, isolation: this.options.isolation },
    );
    a.pid = training.pid;
    const info = training.info;
    a.step = info.startStep;
    a.totalSteps = info.totalSteps;
    a.epoch = Math.floor(info.startStep / info.batchesPerEpoch);
    return { training, learning };
  }
}
