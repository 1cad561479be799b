// The run lifecycle: a FIFO queue with a concurrency limit, one training thread per running run, and
// the persist-then-publish loop that turns runner chunks into database rows and subscription events.
//
// Orderings the streams rely on (src/runs/stream.ts):
//   1. RUNNING is committed before the first chunk is written;
//   2. each chunk is committed (db.writeBatchChunk resolved) before it is published, and published
//      before the training thread is acknowledged (which bounds it to two chunks ahead);
//   3. the terminal status is committed before the final (empty) chunk is published.
import { availableParallelism } from "node:os";
import {
  type Db,
  type EpochRow,
  type JsonObject,
  type Model,
  ModelSource,
  type Run,
  RunKind,
  RunStatus,
} from "../db/index.ts";
import { compile } from "../graph/compile.ts";
import {
  builtinModelBytes,
  checkDataFitsModel,
  describeDataset,
  describeModel,
  readModelFile,
  toDatasetSpec,
} from "../train/catalog.ts";
import { decodeCheckpoint } from "../train/checkpoint.ts";
import { EXPERIMENTS, type RunConfig, RunConfigError, validateRunConfig } from "../train/config.ts";
import { type DatasetSpec, planBatches } from "../train/data/index.ts";
import { detectProviders, requireProvider } from "../train/providers.ts";
import { DivergenceError, type EpochSummary, type TrainEnd } from "../train/runner.ts";
import { startTraining, type TrainingRun } from "../train/thread.ts";
import { Broadcaster } from "./broadcast.ts";
import { resumable } from "./stream.ts";
import type {
  BatchChunkEvent,
  ProviderInfo,
  RunEvent,
  RunManager,
  RunProgress,
  RunsChangedEvent,
  StartRunInput,
} from "./types.ts";

export interface RunManagerOptions {
  db: Db;
  /** Runs training at once; default max(1, ⌊cores / 2⌋). Further runs wait in FIFO order. */
  maxConcurrent?: number;
  /** Checkpoint every N steps; default null. Runs always checkpoint at the end, on cancel and on shutdown. */
  checkpointEvery?: number | null;
  /**
   * Also checkpoint when this many ms passed since the last one; default 30,000. Bounds the work a
   * crash loses without a checkpoint row every few ms for fast models (the linear model runs ~25k steps/s).
   */
  checkpointIntervalMs?: number | null;
  /** onnxruntime threads per run; default max(1, ⌊cores / maxConcurrent⌋) so runs do not oversubscribe. */
  threadsPerRun?: number;
  /** Events a subscriber may fall behind before it is disconnected (see broadcast.ts); default 256. */
  maxQueued?: number;
  /** Rows per replayed chunk when a subscriber catches up from the database; default 1,000. */
  replayChunk?: number;
  /** The pub/sub the events go through; default in-process Broadcasters (Redis across processes). */
  buses?: RunBuses;
}

/** The publish/subscribe shape of broadcast.ts, so another transport (src/runs/redis-pubsub.ts) fits. */
export interface Bus<T> {
  publish(topic: string, event: T): void;
  subscribe(topic: string): AsyncIterableIterator<T>;
  close(topic: string): void;
}

export interface RunBuses {
  batches: Bus<BatchChunkEvent>;
  events: Bus<RunEvent>;
  changes: Bus<RunsChangedEvent>;
}

const ACTIVE: readonly RunStatus[] = [RunStatus.QUEUED, RunStatus.RUNNING];
const RESUMABLE: readonly RunStatus[] = [RunStatus.INTERRUPTED, RunStatus.CANCELLED, RunStatus.FAILED];

export type StopReason = "cancel" | "delete" | "shutdown";

export interface ActiveRun {
  controller: AbortController;
  reason: StopReason | null;
  done: Promise<void>;
  /** Steps completed so far, for progress. */
  step: number;
  totalSteps: number;
  epoch: number;
  /** (time ms, steps completed, samples seen) of recent chunks, for the rate. */
  window: { t: number; step: number; samples: number }[];
}

export class NotFoundError extends Error {
  override name = "NotFoundError";
}

export class RunStateError extends Error {
  override name = "RunStateError";
}

function toEpochRow(e: EpochSummary): EpochRow {
  return {
    epoch: e.epoch,
    trainLoss: e.trainLoss,
    trainAccuracy: e.trainAccuracy,
    valLoss: e.valLoss,
    valAccuracy: e.valAccuracy,
    batches: e.batches,
    timeMs: e.timeMs,
  };
}

/** The config as stored in Run.hyperparameters: everything but the dataset (that is the Dataset row). */
function configJson(cfg: RunConfig): JsonObject {
  const { dataset: _dataset, ...rest } = cfg;
  return JSON.parse(JSON.stringify(rest)) as JsonObject;
}

/** Run.hyperparameters without the `dropout` flag (not a runner config field), and that flag. */
function splitDropout(hp: unknown): { config: JsonObject; dropout: boolean } {
  const { dropout, ...config } = hp as JsonObject;
  return { config, dropout: dropout !== false };
}

export class GradstreamRunManager implements RunManager {
  readonly db: Db;
  readonly maxConcurrent: number;
  private readonly checkpointEvery: number | null;
  private readonly checkpointIntervalMs: number | null;
  private readonly threads: number;
  private readonly replayChunk: number;
  protected readonly batchBus: Bus<BatchChunkEvent>;
  protected readonly eventBus: Bus<RunEvent>;
  protected readonly changeBus: Bus<RunsChangedEvent>;
  private readonly topics = new Set<string>();
  protected readonly queue: number[] = [];
  protected readonly active = new Map<number, ActiveRun>();
  protected closing = false;

  constructor(options: RunManagerOptions) {
    const cores = availableParallelism();
    this.db = options.db;
    this.maxConcurrent = options.maxConcurrent ?? Math.max(1, Math.floor(cores / 2));
    if (!Number.isInteger(this.maxConcurrent) || this.maxConcurrent < 1)
      throw new Error(`maxConcurrent must be an integer ≥ 1, got ${options.maxConcurrent}`);
    this.checkpointEvery = options.checkpointEvery ?? null;
    this.checkpointIntervalMs =
      options.checkpointIntervalMs === undefined ? 30_000 : options.checkpointIntervalMs;
    this.threads = options.threadsPerRun ?? Math.max(1, Math.floor(cores / this.maxConcurrent));
    this.replayChunk = options.replayChunk ?? 1000;
    const bus = { maxQueued: options.maxQueued ?? 256 };
    this.batchBus = options.buses?.batches ?? new Broadcaster(bus);
    this.eventBus = options.buses?.events ?? new Broadcaster(bus);
    this.changeBus = options.buses?.changes ?? new Broadcaster(bus);
  }

  /** Hook for src/runs/external.ts: external runs publish on the same buses as trained ones. */
  get buses(): RunBuses {
    return { batches: this.batchBus, events: this.eventBus, changes: this.changeBus };
  }

  /** Crash recovery: RUNNING runs of a dead process become INTERRUPTED, QUEUED runs are queued again. */
  async recover(): Promise<{ interrupted: number[]; queued: number[] }> {
    const r = await this.db.recoverAfterCrash();
    for (const id of r.queued) if (!this.queue.includes(id)) this.queue.push(id);
    this.pump();
    return r;
  }

  /** A run just committed QUEUED: queue it here (a cluster manager leaves it to the workers). */
  protected enqueue(runId: number): void {
    this.queue.push(runId);
    this.pump();
  }

  // ── topics ─────────────────────────────────────────────────────────────────────────────────────
  protected topic(kind: "batches" | "events", runId: number): string {
    const t = `${kind}:${runId}`;
    this.topics.add(t);
    return t;
  }

  protected publishStatus(run: Run): void {
    this.eventBus.publish(this.topic("events", run.id), {
      kind: "status",
      runId: run.id,
      status: run.status,
      error: run.errorMessage,
      at: new Date(),
    });
  }

  // ── models and datasets ────────────────────────────────────────────────────────────────────────
  /** The Model row of a built-in model (models/<name>.onnx), created on first use. */
  async builtinModel(name: string): Promise<Model> {
    const found = await this.db.findModelByName(name);
    if (found) return found;
    const bytes = builtinModelBytes(name);
    try {
      return await this.db.createModel({
        name,
        source: ModelSource.BUILTIN,
        onnx: bytes,
        ...describeModel(bytes),
      });
    } catch (err) {
      // Another caller created it meanwhile (unique name).
      const again = await this.db.findModelByName(name);
      if (again) return again;
      throw err;
    }
  }

  private modelBytes(model: Model): Uint8Array {
    if (model.onnx) return model.onnx;
    if (model.path) return readModelFile(model.path);
    throw new Error(`model ${model.id} (${model.name}) has neither ONNX bytes nor a path`);
  }

  private async datasetRow(spec: DatasetSpec, fraction: number): Promise<{ id: number; trainSize: number }> {
    const d = describeDataset(spec, fraction);
    const found = await this.db.findDatasetByName(d.name);
    if (found) return found;
    const input = {
      name: d.name,
      kind: spec.kind,
      parameters: JSON.parse(JSON.stringify(spec)) as JsonObject,
      inputShape: d.shape,
      classes: d.classes,
      trainSize: d.trainSize,
      valSize: d.valSize,
    };
    try {
      return await this.db.createDataset(input);
    } catch (err) {
      const again = await this.db.findDatasetByName(d.name);
      if (again) return again;
      throw err;
    }
  }

  // ── RunManager ─────────────────────────────────────────────────────────────────────────────────
  async start(input: StartRunInput): Promise<Run> {
    if (this.closing) throw new RunStateError("the run manager is shutting down");
    const model = await this.db.getModel(input.modelId);
    if (!model) throw new NotFoundError(`unknown model id ${input.modelId}`);
    if (typeof input.config !== "object" || input.config === null || Array.isArray(input.config))
      throw new RunConfigError(
        `config must be an object like {"optimizer":{"kind":"sgd","lr":0.01},"batchSize":10}`,
      );
    const { dropout, ...runConfig } = input.config as Record<string, unknown>;
    if (dropout !== undefined && typeof dropout !== "boolean")
      throw new RunConfigError(`dropout must be true or false, got ${JSON.stringify(dropout)}`);
    if ("dataset" in input.config && (input.config as { dataset?: unknown }).dataset !== undefined)
      throw new RunConfigError("config.dataset is not accepted here: pass the dataset as input.dataset");
    let spec: DatasetSpec;
    if ("id" in input.dataset) {
      const row = await this.db.getDataset(input.dataset.id);
      if (!row) throw new NotFoundError(`unknown dataset id ${input.dataset.id}`);
      spec = toDatasetSpec(row.parameters);
    } else {
      try {
        spec = toDatasetSpec(input.dataset.spec);
      } catch (err) {
        throw new RunConfigError(err instanceof Error ? err.message : String(err));
      }
    }
    const cfg = validateRunConfig({ ...runConfig, dataset: spec });
    await requireProvider(cfg.provider);
    let described: ReturnType<typeof describeDataset>;
    try {
      described = describeDataset(spec, cfg.validation.fraction);
      checkDataFitsModel(described, {
        name: model.name,
        inputShape: model.inputShape as number[],
        classes: model.classes,
      });
    } catch (err) {
      // Unreadable files, shape or class mismatches: all validation errors of this request.
      throw err instanceof RunConfigError
        ? err
        : new RunConfigError(err instanceof Error ? err.message : String(err));
    }
    // Batch size against the real training-set size (files whose size the spec does not tell).
    validateRunConfig({ ...runConfig, dataset: spec }, { trainSamples: described.trainSize });
    const dataset = await this.datasetRow(spec, cfg.validation.fraction);
    const totalSteps = planBatches(described.trainSize, cfg.batchSize, cfg.epochs).totalSteps;
    const run = await this.db.createRun({
      name: input.name ?? `${model.name} ${cfg.optimizer.kind} lr ${cfg.optimizer.lr} bs ${cfg.batchSize}`,
      modelId: model.id,
      datasetId: dataset.id,
      // dropout: false (a sweep's "dropout off") rides along with the config; absent means on.
      hyperparameters: dropout === false ? { ...configJson(cfg), dropout: false } : configJson(cfg),
      providerRequested: cfg.provider,
      seed: cfg.seed,
      stepsPerChunk: cfg.k,
      totalSteps,
      tags: input.tags ?? [],
    });
    this.changeBus.publish("runs", { kind: "created", runId: run.id, status: run.status });
    this.enqueue(run.id);
    return run;
  }

  async startExperiment(name: string): Promise<Run[]> {
    const e = EXPERIMENTS[name];
    if (!e) {
      throw new NotFoundError(
        `unknown experiment "${name}"; experiments: ${Object.keys(EXPERIMENTS).join(", ")}`,
      );
    }
    const model = await this.builtinModel(e.model);
    const runs: Run[] = [];
    for (const cfg of e.runs) {
      const { dataset, ...config } = cfg;
      runs.push(
        await this.start({
          name: e.runs.length > 1 ? `${e.name} (batch ${cfg.batchSize})` : e.name,
          modelId: model.id,
          dataset: { spec: dataset },
          config,
          tags: [`experiment:${e.name}`],
        }),
      );
    }
    return runs;
  }

  private async getRunOrThrow(runId: number): Promise<Run> {
    const run = await this.db.getRun(runId);
    if (!run) throw new NotFoundError(`unknown run id ${runId}`);
    return run;
  }

  async cancel(runId: number): Promise<Run> {
    // Hook (external runs): nothing trains an EXTERNAL run here, so cancelling is only its status.
    const run = await this.db.getRun(runId);
    if (run?.kind === RunKind.EXTERNAL) {
      if (!ACTIVE.concat(RunStatus.INTERRUPTED).includes(run.status))
        throw new RunStateError(
          `run ${runId} is ${run.status}; only a RUNNING or INTERRUPTED run can be cancelled`,
        );
      return this.finish(runId, RunStatus.CANCELLED, "cancelled", null);
    }
    return this.stop(runId, "cancel");
  }

  protected async stop(runId: number, reason: StopReason): Promise<Run> {
    const queued = this.queue.indexOf(runId);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      return this.finish(runId, RunStatus.CANCELLED, "cancelled before it started", null);
    }
    const a = this.active.get(runId);
    if (a) {
      a.reason ??= reason;
      a.controller.abort();
      await a.done;
      return this.getRunOrThrow(runId);
    }
    const run = await this.getRunOrThrow(runId);
    if (run.status === RunStatus.INTERRUPTED || reason === "delete") {
      return run.status === RunStatus.INTERRUPTED
        ? this.finish(runId, RunStatus.CANCELLED, "cancelled while interrupted", null)
        : run;
    }
    throw new RunStateError(
      `run ${runId} is ${run.status}; only QUEUED, RUNNING or INTERRUPTED runs can be cancelled`,
    );
  }

  async resume(runId: number): Promise<Run> {
    if (this.closing) throw new RunStateError("the run manager is shutting down");
    const run = await this.getRunOrThrow(runId);
    if (run.kind === RunKind.EXTERNAL)
      throw new RunStateError(
        `run ${runId} is EXTERNAL: it goes on when its trainer logs again (logMetrics)`,
      );
    if (!RESUMABLE.includes(run.status) || this.active.has(runId) || this.queue.includes(runId)) {
      throw new RunStateError(
        `run ${runId} is ${run.status}; only INTERRUPTED, CANCELLED or FAILED runs can be resumed`,
      );
    }
    const queued = await this.db.updateRun(runId, {
      status: RunStatus.QUEUED,
      errorMessage: null,
      failedAtStep: null,
      finishedAt: null,
    });
    this.publishStatus(queued);
    this.enqueue(runId);
    return queued;
  }

  async delete(runId: number): Promise<boolean> {
    if (this.queue.includes(runId) || this.active.has(runId)) await this.stop(runId, "delete");
    const deleted = await this.db.deleteRun(runId);
    if (deleted) {
      this.changeBus.publish("runs", { kind: "deleted", runId, status: null });
      this.batchBus.close(`batches:${runId}`);
      this.eventBus.close(`events:${runId}`);
    }
    return deleted;
  }

  async exportModel(runId: number): Promise<Uint8Array> {
    const run = await this.getRunOrThrow(runId);
    const cp = await this.db.latestCheckpoint(runId);
    if (!cp)
      throw new RunStateError(`run ${runId} has no checkpoint yet (status ${run.status}); nothing to export`);
    // External runs (issue: metrics from any trainer) have no model here to export.
    if (run.modelId === null) throw new RunStateError(`run ${runId} is EXTERNAL: it has no model to export`);
    const model = await this.db.getModel(run.modelId);
    if (!model) throw new NotFoundError(`unknown model id ${run.modelId}`);
    const cfg = validateRunConfig(splitDropout(run.hyperparameters).config);
    const compiled = compile(this.modelBytes(model), { optimizer: cfg.optimizer, loss: cfg.loss });
    const state = decodeCheckpoint(cp.state);
    const trained: Record<string, Float32Array> = {};
    for (const t of compiled.tensors) if (t.role !== "optimizer") trained[t.name] = state.tensors[t.name];
    return compiled.exportInference(trained);
  }

  batches(runId: number, afterStep: number): AsyncIterableIterator<BatchChunkEvent> {
    // Subscribe before the first replay query (see stream.ts).
    const live = this.batchBus.subscribe(this.topic("batches", runId));
    return resumable<BatchChunkEvent>({
      afterStep,
      live,
      replay: async (after) => {
        // Status first: a run seen ended here has every row committed before that status.
        const run = await this.getRunOrThrow(runId);
        const page = await this.db.batchMetricsPage(runId, after, this.replayChunk);
        if (page.rows.length)
          return { runId, rows: page.rows, lastStep: page.rows[page.rows.length - 1].step, final: false };
        if (ACTIVE.includes(run.status)) return null;
        // Hook (external runs): an idle EXTERNAL run is INTERRUPTED but may log again, so its stream stays open.
        if (run.kind === RunKind.EXTERNAL && run.status === RunStatus.INTERRUPTED) return null;
        return { runId, rows: [], lastStep: after, final: true };
      },
      after: (chunk, after) => ({ ...chunk, rows: chunk.rows.filter((r) => r.step > after) }),
    });
  }

  runEvents(runId: number): AsyncIterableIterator<RunEvent> {
    const live = this.eventBus.subscribe(this.topic("events", runId));
    const db = this.db;
    let checked = false;
    const it: AsyncIterableIterator<RunEvent> = {
      [Symbol.asyncIterator]: () => it,
      async next() {
        if (!checked) {
          checked = true;
          if (!(await db.getRun(runId))) {
            await live.return?.();
            throw new NotFoundError(`unknown run id ${runId}`);
          }
        }
        return live.next();
      },
      return: async () => (live.return ? live.return() : { value: undefined, done: true }),
    };
    return it;
  }

  runsChanged(): AsyncIterableIterator<RunsChangedEvent> {
    this.topics.add("runs");
    return this.changeBus.subscribe("runs");
  }

  async progress(runId: number): Promise<RunProgress> {
    const a = this.active.get(runId);
    if (a) {
      const w = a.window;
      let samplesPerSecond: number | null = null;
      let etaSeconds: number | null = null;
      if (w.length >= 2) {
        const dt = (w[w.length - 1].t - w[0].t) / 1000;
        const ds = w[w.length - 1].step - w[0].step;
        if (dt > 0 && ds > 0) {
          samplesPerSecond = (w[w.length - 1].samples - w[0].samples) / dt;
          etaSeconds = ((a.totalSteps - a.step) * dt) / ds;
        }
      }
      return { step: a.step, totalSteps: a.totalSteps, epoch: a.epoch, samplesPerSecond, etaSeconds };
    }
    const run = await this.getRunOrThrow(runId);
    return {
      step: run.stepsCompleted,
      totalSteps: run.totalSteps,
      epoch: run.epochsCompleted,
      samplesPerSecond: null,
      etaSeconds: run.status === RunStatus.COMPLETED ? 0 : null,
    };
  }

  async providers(): Promise<ProviderInfo[]> {
    return detectProviders();
  }

  async close(): Promise<void> {
    this.closing = true;
    // Queued runs stay QUEUED in the database: recover() picks them up at the next start.
    this.queue.length = 0;
    const running = [...this.active.values()];
    for (const a of running) {
      a.reason ??= "shutdown";
      a.controller.abort();
    }
    await Promise.all(running.map((a) => a.done));
    for (const t of this.topics) {
      this.batchBus.close(t);
      this.eventBus.close(t);
      this.changeBus.close(t);
    }
  }

  // ── execution ──────────────────────────────────────────────────────────────────────────────────
  protected pump(): void {
    while (!this.closing && this.active.size < this.maxConcurrent && this.queue.length) {
      this.launch(this.queue.shift() as number);
    }
  }

  /** Trains a run in this process (a thread), then pumps the queue again. */
  protected launch(runId: number): void {
    const a: ActiveRun = {
      controller: new AbortController(),
      reason: null,
      done: Promise.resolve(),
      step: 0,
      totalSteps: 0,
      epoch: 0,
      window: [],
    };
    this.active.set(runId, a);
    a.done = this.execute(runId, a)
      .catch((err: unknown) => {
        // Only a database failure while finishing lands here; the run stays as the database has it.
        console.error(`gradstream: run ${runId}: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        this.active.delete(runId);
        this.pump();
      });
  }

  /** Commits a terminal (or INTERRUPTED) status, then publishes it and the final chunk. */
  protected async finish(
    runId: number,
    status: RunStatus,
    error: string | null,
    failedAtStep: number | null,
  ): Promise<Run> {
    const run = await this.db.updateRun(runId, {
      status,
      errorMessage: error,
      failedAtStep,
      finishedAt: status === RunStatus.INTERRUPTED ? null : new Date(),
    });
    this.publishStatus(run);
    this.changeBus.publish("runs", { kind: "finished", runId, status });
    this.batchBus.publish(this.topic("batches", runId), {
      runId,
      rows: [],
      lastStep: run.lastStep ?? -1,
      final: true,
    });
    return run;
  }

  protected async execute(runId: number, a: ActiveRun): Promise<void> {
    const run = await this.db.getRun(runId);
    if (!run) return; // deleted while queued
    let end: TrainEnd | null = null;
    let training: TrainingRun | null = null;
    try {
      const model = run.modelId === null ? null : await this.db.getModel(run.modelId);
      const dataset = run.datasetId === null ? null : await this.db.getDataset(run.datasetId);
      if (!model || !dataset) throw new Error(`run ${runId} lost its model or dataset`);
      const hp = splitDropout(run.hyperparameters);
      const config = { ...hp.config, dataset: dataset.parameters };
      const cfg = validateRunConfig(config);
      await requireProvider(cfg.provider);
      const checkpoint = await this.db.latestCheckpoint(runId);
      const started = await this.db.updateRun(runId, {
        status: RunStatus.RUNNING,
        startedAt: run.startedAt ?? new Date(),
        providerUsed: cfg.provider,
        errorMessage: null,
        failedAtStep: null,
      });
      this.publishStatus(started);
      this.changeBus.publish("runs", { kind: "started", runId, status: RunStatus.RUNNING });
      training = await startTraining(
        {
          model: this.modelBytes(model),
          config,
          checkpoint: checkpoint?.state ?? null,
          checkpointEvery: this.checkpointEvery,
          checkpointIntervalMs: this.checkpointIntervalMs,
          threads: this.threads,
          spinning: false,
          dropout: hp.dropout,
        },
        { signal: a.controller.signal },
      );
      const info = training.info;
      a.step = info.startStep;
      a.totalSteps = info.totalSteps;
      a.epoch = Math.floor(info.startStep / info.batchesPerEpoch);
      if (info.totalSteps !== run.totalSteps) await this.db.updateRun(runId, { totalSteps: info.totalSteps });
      const batches = this.topic("batches", runId);
      const events = this.topic("events", runId);
      for (;;) {
        const r = await training.chunks.next();
        if (r.done) {
          end = r.value;
          break;
        }
        const c = r.value;
        if (c.rows.length) {
          await this.db.writeBatchChunk(runId, c.rows);
          const last = c.rows[c.rows.length - 1];
          this.batchBus.publish(batches, { runId, rows: c.rows, lastStep: last.step, final: false });
          a.step = last.step + 1;
          a.epoch = last.epoch;
          a.window.push({ t: performance.now(), step: a.step, samples: last.samples });
          if (a.window.length > 20) a.window.shift();
        }
        if (c.epoch) {
          const epoch = toEpochRow(c.epoch);
          await this.db.writeEpoch(runId, epoch);
          this.eventBus.publish(events, { kind: "epoch", runId, epoch });
        }
        if (c.checkpoint) await this.db.saveCheckpoint(runId, c.checkpoint);
      }
      await this.db.saveCheckpoint(runId, end.checkpoint);
    } catch (err) {
      // A failed write leaves the training thread waiting for its acknowledgement: stop it.
      await training?.terminate();
      const message = err instanceof Error ? err.message : String(err);
      const step = err instanceof DivergenceError ? err.step : null;
      if ((await this.db.getRun(runId)) === null) return;
      await this.finish(runId, RunStatus.FAILED, message, step);
      return;
    }
    if ((await this.db.getRun(runId)) === null) return;
    if (end.status === "completed") await this.finish(runId, RunStatus.COMPLETED, null, null);
    else if (a.reason === "shutdown")
      await this.finish(
        runId,
        RunStatus.INTERRUPTED,
        "interrupted: the server shut down; resume to continue",
        null,
      );
    else await this.finish(runId, RunStatus.CANCELLED, a.reason === "delete" ? "deleted" : "cancelled", null);
  }
}

/** Creates the manager and recovers after a crash (RUNNING → INTERRUPTED, QUEUED runs requeued). */
export async function createRunManager(options: RunManagerOptions): Promise<GradstreamRunManager> {
  const m = new GradstreamRunManager(options);
  await m.recover();
  return m;
}
