// The run lifecycle, composed of one part per job:
//   admission.ts  validates a start request once (typed errors naming the field) and normalizes it;
//   queue.ts      decides which runs this process trains and when (in-memory FIFO, or PostgreSQL);
//   executor.ts   trains them here, persisting each chunk before publishing it;
//   events.ts     the buses and the resumable streams subscribers read;
//   progress.ts   step, rate and ETA.
// This file holds the state changes between them: create QUEUED, cancel, resume, delete, finish.
import { availableParallelism } from "node:os";
import { type Db, type ModelInfo, ModelSource, type Run, RunKind, RunStatus } from "../db/index.ts";
import { checkpointAt } from "../db/learning.ts";
import { NotFoundError, RunStateError } from "../errors.ts";
import { exportOffThread, inspectOffThread } from "../models/compile-thread.ts";
import { builtinModelBytes } from "../train/catalog.ts";
import { decodeCheckpoint } from "../train/checkpoint.ts";
import { EXPERIMENTS, validateRunConfig } from "../train/config.ts";
import { detectProviders } from "../train/providers.ts";
import { type AdmissionLimits, type AdmittedRun, admitRun, datasetIdOf } from "./admission.ts";
import { Alerter, DEFAULT_ALERT_OPTIONS } from "./alerts.ts";
import { type RunBuses, RunEvents, unknownRun } from "./events.ts";
import { Executor, modelBytes, splitDropout } from "./executor.ts";
import type { RunManagerOptions } from "./options.ts";
import { liveProgress, type StopReason, storedProgress } from "./progress.ts";
import { MemoryRunQueue, type QueueHost, type RunQueue } from "./queue.ts";
import type {
  BatchChunkEvent,
  ProviderInfo,
  RunEvent,
  RunManager,
  RunProgress,
  RunsChangedEvent,
  StartRunInput,
} from "./types.ts";

export type { RunManagerOptions } from "./options.ts";

const RESUMABLE: readonly RunStatus[] = [RunStatus.INTERRUPTED, RunStatus.CANCELLED, RunStatus.FAILED];

export class GradstreamRunManager implements RunManager {
  readonly db: Db;
  readonly maxConcurrent: number;
  readonly queue: RunQueue;
  private readonly events: RunEvents;
  private readonly executor: Executor;
  private readonly limits: AdmissionLimits;
  /** Alert webhooks (src/runs/alerts.ts); settle() waits for deliveries in flight. */
  readonly alerter: Alerter;
  private closing = false;

  constructor(options: RunManagerOptions) {
    const cores = availableParallelism();
    this.db = options.db;
    this.maxConcurrent = options.maxConcurrent ?? Math.max(1, Math.floor(cores / 2));
    if (!Number.isInteger(this.maxConcurrent) || this.maxConcurrent < 1)
      throw new Error(`maxConcurrent must be an integer ≥ 1, got ${options.maxConcurrent}`);
    this.limits = {
      maxBatchElements: options.limits?.maxBatchElements ?? Number.POSITIVE_INFINITY,
      dataDirs: options.limits?.dataDirs,
      alertAllowedHosts: options.alerts?.allowedHosts ?? [],
    };
    const resume = options.resumeOnStart ? { maxTrainerCrashes: options.maxTrainerCrashes ?? 3 } : null;
    this.queue = options.queue ?? new MemoryRunQueue(this.db, resume);
    this.events = new RunEvents(this.db, options);
    const share = Math.max(1, Math.floor(cores / this.maxConcurrent));
    const threads = options.threadsPerRun ?? share;
    const executorOptions = {
      checkpointEvery: options.checkpointEvery ?? null,
      checkpointIntervalMs:
        options.checkpointIntervalMs === undefined ? 30_000 : options.checkpointIntervalMs,
      cores: share,
      threads,
      spinning: options.spinning ?? this.maxConcurrent * threads <= cores,
      isolation: options.trainerIsolation ?? "process",
    };
    const finish = this.finish.bind(this);
    this.alerter = new Alerter(this.db, this.events, { ...DEFAULT_ALERT_OPTIONS, ...options.alerts });
    const ended = (id: number) => this.queue.ended(id);
    this.executor = new Executor(this.db, this.events, executorOptions, finish, ended, this.alerter);
  }

  /** External runs (src/runs/external.ts) publish on the same buses as trained ones. */
  get buses(): RunBuses {
    return this.events.buses;
  }

  /** Recovers what a previous process left (per the queue) and starts training queued runs. */
  async open(): Promise<void> {
    const executor = this.executor;
    const host: QueueHost = {
      maxConcurrent: this.maxConcurrent,
      running: () => executor.running(),
      launch: (runId) => executor.launch(runId),
      stop: (runId, reason) => void executor.stop(runId, reason),
      finish: this.finish.bind(this),
      events: this.events,
    };
    await this.queue.open(host);
  }

  /** The Model row of a built-in model (models/<name>.onnx), created on first use. */
  async builtinModel(name: string): Promise<ModelInfo> {
    const found = await this.db.findModelByName(name);
    if (found) return found;
    const bytes = builtinModelBytes(name);
    try {
      return await this.db.createModel({
        name,
        source: ModelSource.BUILTIN,
        onnx: bytes,
        ...(await inspectOffThread(bytes)),
      });
    } catch (err) {
      // Another caller created it meanwhile (unique name).
      const again = await this.db.findModelByName(name);
      if (again) return again;
      throw err;
    }
  }

  // ── RunManager ─────────────────────────────────────────────────────────────────────────────────
  admit(input: StartRunInput): Promise<AdmittedRun> {
    return admitRun(this.db, this.limits, input);
  }

  async start(input: StartRunInput): Promise<Run> {
    if (this.closing) throw new RunStateError("the run manager is shutting down", "input");
    const admitted = await this.admit(input);
    const datasetId = await datasetIdOf(this.db, admitted.dataset);
    const run = await this.db.createRun({ ...admitted.run, datasetId });
    this.events.changed("created", run.id, run.status);
    this.queue.enqueue(run.id);
    return run;
  }

  async startExperiment(name: string): Promise<Run[]> {
    const e = Object.hasOwn(EXPERIMENTS, name) ? EXPERIMENTS[name] : undefined;
    if (!e) {
      const known = Object.keys(EXPERIMENTS).join(", ");
      throw new NotFoundError("experiment", name, `unknown experiment "${name}"; experiments: ${known}`);
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
    if (!run) throw unknownRun(runId);
    return run;
  }

  async cancel(runId: number): Promise<Run> {
    const run = await this.getRunOrThrow(runId);
    if (run.kind === RunKind.EXTERNAL && run.status === RunStatus.RUNNING)
      return this.finish(runId, RunStatus.CANCELLED, "cancelled", null); // it trains elsewhere
    return this.stop(runId, "cancel");
  }

  private async stop(runId: number, reason: StopReason): Promise<Run> {
    if (this.executor.active.has(runId)) {
      await this.executor.stop(runId, reason);
      return this.getRunOrThrow(runId);
    }
    if (await this.queue.take(runId))
      return this.finish(runId, RunStatus.CANCELLED, "cancelled before it started", null);
    const elsewhere = await this.queue.stopElsewhere(runId);
    if (elsewhere) return elsewhere;
    const run = await this.getRunOrThrow(runId);
    if (run.status === RunStatus.INTERRUPTED)
      return this.finish(runId, RunStatus.CANCELLED, "cancelled while interrupted", null);
    if (reason === "delete") return run;
    throw new RunStateError(
      `run ${runId} is ${run.status}; only QUEUED, RUNNING or INTERRUPTED runs can be cancelled`,
    );
  }

  async resume(runId: number): Promise<Run> {
    if (this.closing) throw new RunStateError("the run manager is shutting down");
    const run = await this.getRunOrThrow(runId);
    if (run.kind === RunKind.EXTERNAL)
      throw new RunStateError(`run ${runId} is EXTERNAL: it goes on when its trainer logs again`);
    if (!RESUMABLE.includes(run.status) || this.executor.active.has(runId) || this.queue.waiting(runId)) {
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
    this.events.statusOf(queued);
    this.queue.enqueue(runId);
    return queued;
  }

  async delete(runId: number): Promise<boolean> {
    if (this.queue.waiting(runId) || this.executor.active.has(runId)) await this.stop(runId, "delete");
    const deleted = await this.db.deleteRun(runId);
    if (deleted) {
      this.events.changed("deleted", runId, null);
      this.events.closeRun(runId);
    }
    return deleted;
  }

  async exportModel(runId: number): Promise<Uint8Array> {
    const run = await this.getRunOrThrow(runId);
    // With early stopping the best evaluation's state (saved after its step) is the model to export.
    const best = run.bestStep === null ? null : await checkpointAt(this.db, runId, run.bestStep + 1);
    const cp = best ?? (await this.db.latestCheckpoint(runId));
    if (!cp)
      throw new RunStateError(`run ${runId} has no checkpoint yet (status ${run.status}); nothing to export`);
    if (run.modelId === null) throw new RunStateError(`run ${runId} is EXTERNAL: it has no model to export`);
    const model = await this.db.getModel(run.modelId);
    if (!model) throw new NotFoundError("model", String(run.modelId), `unknown model id ${run.modelId}`);
    const cfg = validateRunConfig(splitDropout(run.hyperparameters).config);
    const state = decodeCheckpoint(cp.state);
    return exportOffThread(
      await modelBytes(this.db, model),
      { optimizer: cfg.optimizer, loss: cfg.loss },
      state.tensors,
    );
  }

  batches(runId: number, afterStep: number): AsyncIterableIterator<BatchChunkEvent> {
    return this.events.batches(runId, afterStep);
  }

  runEvents(runId: number): AsyncIterableIterator<RunEvent> {
    return this.events.runEvents(runId);
  }

  runsChanged(): AsyncIterableIterator<RunsChangedEvent> {
    return this.events.runsChanged();
  }

  async progress(runId: number): Promise<RunProgress> {
    const a = this.executor.active.get(runId);
    return a ? liveProgress(a) : storedProgress(await this.getRunOrThrow(runId));
  }

  /** The process id of the run's trainer while it trains here in a child process, else null. */
  trainerPid(runId: number): number | null {
    return this.executor.active.get(runId)?.pid ?? null;
  }

  async providers(): Promise<ProviderInfo[]> {
    return detectProviders();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.queue.close(async () => {
      await this.executor.stopAll("shutdown");
      this.events.close();
    });
  }

  /** Commits a terminal (or INTERRUPTED) status, then publishes it and the final chunk. */
  private async finish(
    runId: number,
    status: RunStatus,
    error: string | null,
    failedAtStep: number | null,
  ): Promise<Run> {
    const handled = await this.queue.intercept(runId, status);
    if (handled) return handled;
    const run = await this.db.updateRun(runId, {
      status,
      errorMessage: error,
      failedAtStep,
      finishedAt: status === RunStatus.INTERRUPTED ? null : new Date(),
    });
    this.events.statusOf(run);
    this.alerter.status(run);
    this.events.changed("finished", runId, status);
    this.events.chunk({ runId, rows: [], lastStep: run.lastStep ?? -1, final: true });
    return run;
  }
}

/** Creates the manager and opens its queue (crash recovery, then training of queued runs). */
export async function createRunManager(options: RunManagerOptions): Promise<GradstreamRunManager> {
  const m = new GradstreamRunManager(options);
  await m.open();
  return m;
}
