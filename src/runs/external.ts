// External runs: metrics from any trainer. A run of kind EXTERNAL has no model or dataset here; its
// trainer (a PyTorch loop, `gradstream log` reading a script's output, a few lines of Python) sends
// rows with logMetrics. They take the trained runs' path: validated, persisted through the same write
// path (rollups, progress, heartbeat), then published on the same buses, so batchMetrics, history,
// fluctuation and compareRuns treat both kinds alike.
//
// Idempotent per step: a step sent again with the same values is ignored, with different values it is
// refused naming the step, and nothing of that call is stored. Calls for one run are serialized in this
// process, so the check and the write see the same rows. Across processes (API instances sharing one
// PostgreSQL database) the write skips steps already stored (ON CONFLICT DO NOTHING) and, when it stored
// fewer rows than it sent, compares them: a step another call stored with other values is refused too,
// though the rest of that call stays stored.
import { type Db, type Run, RunKind, RunStatus } from "../db/index.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { Broadcaster } from "./broadcast.ts";
import type { RunBuses } from "./events.ts";
import {
  type CreateExternalInput,
  checkCreateInput,
  conflictError,
  type ExternalLimits,
  type LogEpochInput,
  type LogResult,
  type LogRow,
  normalizeEpochs,
  normalizeRows,
} from "./external-rows.ts";

export type { CreateExternalInput, ExternalLimits, LogEpochInput, LogResult, LogRow };

const FINISHED: readonly RunStatus[] = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED];

export class ExternalRuns {
  readonly #db: Db;
  readonly #buses: RunBuses;
  readonly #limits: ExternalLimits;
  /** Per-run tail of the call chain: calls for one run run one at a time. */
  readonly #chains = new Map<number, Promise<unknown>>();
  /** Custom names known per run (bounded by MAX_CUSTOM_METRICS each). */
  readonly #names = new Map<number, Set<string>>();
  #timer: NodeJS.Timeout | null = null;

  constructor(opts: { db: Db; buses?: RunBuses | null; limits: ExternalLimits }) {
    this.#db = opts.db;
    this.#limits = opts.limits;
    this.#buses = opts.buses ?? {
      batches: new Broadcaster(),
      events: new Broadcaster(),
      changes: new Broadcaster(),
    };
  }

  /** Starts the idle sweep (EXTERNAL_IDLE_MS); stop it with close(). */
  start(): this {
    const period = Math.max(50, Math.min(this.#limits.idleMs / 4, 5_000));
    this.#timer = setInterval(() => {
      this.sweepIdle().catch((err: unknown) => {
        console.error(`gradstream: idle sweep of external runs: ${err instanceof Error ? err.message : err}`);
      });
    }, period);
    this.#timer.unref();
    return this;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #serial<T>(runId: number, work: () => Promise<T>): Promise<T> {
    const prev = this.#chains.get(runId) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => {});
    this.#chains.set(runId, tail);
    tail.then(() => {
      if (this.#chains.get(runId) === tail) this.#chains.delete(runId);
    });
    return next;
  }

  async create(input: CreateExternalInput): Promise<Run> {
    const { name, tags, config, total } = checkCreateInput(input);
    const now = new Date();
    const created = await this.#db.createRun({
      name,
      kind: RunKind.EXTERNAL,
      modelId: null,
      datasetId: null,
      hyperparameters: config,
      providerRequested: "external",
      seed: 0,
      stepsPerChunk: 1,
      totalSteps: total,
      tags,
    });
    // Straight to RUNNING: there is no queue; the trainer is already going.
    const run = await this.#db.updateRun(created.id, {
      status: RunStatus.RUNNING,
      startedAt: now,
      providerUsed: "external",
    });
    await this.#db.heartbeat(run.id);
    this.#buses.changes.publish("runs", { kind: "created", runId: run.id, status: run.status });
    return run;
  }

  async #externalRun(runId: number): Promise<Pick<Run, "kind" | "status" | "lastStep">> {
    const run = await this.#db.runState(runId);
    if (!run) throw new NotFoundError("run", String(runId));
    if (run.kind !== RunKind.EXTERNAL) {
      throw new ValidationError(
        "runId",
        `run ${runId} is ${run.kind}: only EXTERNAL runs (createRun) accept logged metrics`,
      );
    }
    return run;
  }

  async #knownNames(runId: number): Promise<Set<string>> {
    let names = this.#names.get(runId);
    if (!names) {
      names = new Set(await this.#db.customMetricNames(runId));
      this.#names.set(runId, names);
    }
    return names;
  }

  /** logMetrics: persists the new rows, then publishes them; see the file comment for idempotency. */
  async log(runId: number, input: readonly LogRow[]): Promise<LogResult> {
    const { rows, custom } = normalizeRows(input, this.#limits);
    return this.#serial(runId, async () => {
      let run = await this.#externalRun(runId);
      if (FINISHED.includes(run.status)) {
        throw new ValidationError(
          "runId",
          `run ${runId} is ${run.status}; a finished run accepts no more metrics (create a new run)`,
        );
      }
      if (rows.length === 0) return { stored: 0, ignored: 0, lastStep: run.lastStep };
      const known = await this.#knownNames(runId);
      const fresh = new Set(custom.map((c) => c.name).filter((n) => !known.has(n)));
      if (known.size + fresh.size > this.#limits.maxCustomMetrics) {
        throw new ValidationError(
          "custom",
          `run ${runId} would have ${known.size + fresh.size} custom metrics; at most ${this.#limits.maxCustomMetrics} (MAX_CUSTOM_METRICS)`,
        );
      }
      // Rows at or below the highest stored step may be there already: compare them with what is stored.
      const maybe = run.lastStep === null ? [] : rows.filter((r) => r.step <= (run.lastStep as number));
      const found = await this.#db.rowsAtSteps(
        runId,
        maybe.map((r) => r.step),
      );
      const conflict = conflictError(found, maybe);
      if (conflict) throw conflict;
      const stored = new Set(found.map((r) => Number(r.step)));
      const newRows = rows.filter((r) => !stored.has(r.step));
      if (newRows.length === 0) return { stored: 0, ignored: rows.length, lastStep: run.lastStep };
      if (run.status !== RunStatus.RUNNING) {
        // INTERRUPTED (idle, or the server restarted): logging again takes it up where it was.
        const resumed = await this.#db.updateRun(runId, {
          status: RunStatus.RUNNING,
          errorMessage: null,
          finishedAt: null,
        });
        run = resumed;
        this.#publishStatus(resumed);
        this.#buses.changes.publish("runs", { kind: "started", runId, status: RunStatus.RUNNING });
      }
      const newSteps = new Set(newRows.map((r) => r.step));
      const n = await this.#db.writeBatchChunk(
        runId,
        newRows,
        custom.filter((c) => newSteps.has(c.step)),
      );
      for (const name of fresh) known.add(name);
      const last = newRows[newRows.length - 1].step;
      // Fewer stored than sent: another process (a cluster's other API instance) stored some of these
      // steps between our check and our write, and its values won; refuse if they differ from ours.
      if (n < newRows.length) {
        const late = conflictError(await this.#db.rowsAtSteps(runId, [...newSteps]), newRows, true);
        if (late) throw late;
      }
      this.#buses.batches.publish(`batches:${runId}`, { runId, rows: newRows, lastStep: last, final: false });
      const lastStep = Math.max(last, run.lastStep ?? -1);
      return { stored: n, ignored: rows.length - newRows.length, lastStep };
    });
  }

  /** logEpoch: upserts per-epoch train/validation values (a re-sent epoch replaces its values). */
  async logEpoch(runId: number, epochs: readonly LogEpochInput[]): Promise<number> {
    const rows = normalizeEpochs(epochs);
    return this.#serial(runId, async () => {
      const run = await this.#externalRun(runId);
      if (FINISHED.includes(run.status)) {
        throw new ValidationError(
          "runId",
          `run ${runId} is ${run.status}; a finished run accepts no more metrics`,
        );
      }
      for (const epoch of rows) {
        await this.#db.writeEpoch(runId, epoch);
        this.#buses.events.publish(`events:${runId}`, { kind: "epoch", runId, epoch });
      }
      return rows.length;
    });
  }

  /**
   * finishRun: commits the terminal status, then publishes it and the final chunk (streams complete).
   * Finishing again with the same status returns the run unchanged (a retried call).
   */
  async finish(runId: number, status: RunStatus, message: string | null): Promise<Run> {
    if (!FINISHED.includes(status)) {
      throw new ValidationError("status", `status must be COMPLETED, FAILED or CANCELLED, got ${status}`);
    }
    if (message !== null && message.length > 10_000)
      throw new ValidationError("message", `message must be at most 10000 characters, got ${message.length}`);
    return this.#serial(runId, async () => {
      const run = await this.#externalRun(runId);
      if (FINISHED.includes(run.status)) {
        if (run.status === status) return (await this.#db.getRun(runId)) as Run;
        throw new ValidationError(
          "status",
          `run ${runId} already finished ${run.status}; it cannot become ${status}`,
        );
      }
      const done = await this.#db.updateRun(runId, { status, errorMessage: message, finishedAt: new Date() });
      this.#publishStatus(done);
      this.#buses.changes.publish("runs", { kind: "finished", runId, status });
      this.#buses.batches.publish(`batches:${runId}`, {
        runId,
        rows: [],
        lastStep: done.lastStep ?? -1,
        final: true,
      });
      this.#names.delete(runId);
      return done;
    });
  }

  /** RUNNING external runs silent for EXTERNAL_IDLE_MS become INTERRUPTED; returns their ids. */
  async sweepIdle(now = Date.now()): Promise<number[]> {
    const cutoff = new Date(now - this.#limits.idleMs);
    const idle = await this.#db.prisma.run.findMany({
      where: { kind: RunKind.EXTERNAL, status: RunStatus.RUNNING, heartbeatAt: { lt: cutoff } },
      select: { id: true },
    });
    const ids: number[] = [];
    for (const { id } of idle) {
      await this.#serial(id, async () => {
        // Re-checked inside the run's chain: a logMetrics call may have just arrived.
        const r = await this.#db.prisma.run.updateMany({
          where: { id, status: RunStatus.RUNNING, heartbeatAt: { lt: cutoff } },
          data: {
            status: RunStatus.INTERRUPTED,
            errorMessage: `interrupted: no metrics for ${this.#limits.idleMs} ms (EXTERNAL_IDLE_MS); logging again resumes it`,
          },
        });
        if (r.count === 1) {
          const run = await this.#db.getRun(id);
          if (run) this.#publishStatus(run);
          this.#buses.changes.publish("runs", { kind: "finished", runId: id, status: RunStatus.INTERRUPTED });
          ids.push(id);
        }
      });
    }
    return ids;
  }

  #publishStatus(run: Run): void {
    this.#buses.events.publish(`events:${run.id}`, {
      kind: "status",
      runId: run.id,
      status: run.status,
      error: run.errorMessage,
      at: new Date(),
    });
  }
}
