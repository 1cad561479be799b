// External runs: metrics from any trainer. A run of kind EXTERNAL has no model or dataset here; its
// trainer (a PyTorch loop, `gradstream log` reading a script's output, a few lines of Python) sends
// rows with logMetrics. They take the trained runs' path: validated, persisted through the same write
// path (rollups, progress, heartbeat), then published on the same buses, so batchMetrics, history,
// fluctuation and compareRuns treat both kinds alike.
//
// Idempotent per step: a step sent again with the same values is ignored, with different values it is
// refused naming the step, and nothing of that call is stored. Calls for one run are serialized in this
// process, so the check and the write see the same rows.
import {
  type BatchRow,
  type CustomValue,
  type Db,
  type EpochRow,
  type JsonObject,
  METRICS,
  type Metric,
  type Run,
  RunKind,
  RunStatus,
} from "../db/index.ts";
import { CUSTOM_NAME } from "../db/sql.ts";
import { Broadcaster } from "./broadcast.ts";
import type { RunBuses } from "./manager.ts";

/** A request that cannot be served as sent; `field` names the input at fault (e.g. "rows[3].loss"). */
export class ExternalInputError extends Error {
  override name = "ExternalInputError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export class ExternalNotFoundError extends Error {
  override name = "ExternalNotFoundError";
}

export interface ExternalLimits {
  /** MAX_LOG_ROWS: rows per logMetrics call. */
  maxLogRows: number;
  /** MAX_CUSTOM_METRICS: distinct custom names per run. */
  maxCustomMetrics: number;
  /** MAX_METRIC_NAME_LENGTH: longest custom name. */
  maxMetricNameLength: number;
  /** EXTERNAL_IDLE_MS: silence after which a RUNNING external run becomes INTERRUPTED. */
  idleMs: number;
}

/** One logged step as the API receives it: only `step` is required. */
export interface LogRow {
  step: number;
  epoch?: number | null;
  batch?: number | null;
  loss?: number | null;
  accuracy?: number | null;
  lr?: number | null;
  gradNorm?: number | null;
  confidence?: number | null;
  trueClassProb?: number | null;
  samples?: number | null;
  /** Wall time the step took, ms. */
  timeMs?: number | null;
  /** Named custom scalars: `{ "perplexity": 12.3, "grad_norm/fc1": 0.4 }`. */
  custom?: unknown;
}

export interface LogEpochInput {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss?: number | null;
  valAccuracy?: number | null;
  batches?: number | null;
  timeMs?: number | null;
}

export interface LogResult {
  /** Rows newly stored by this call. */
  stored: number;
  /** Rows already stored with the same values (a retry), ignored. */
  ignored: number;
  /** The run's highest stored step after this call (null while it has none). */
  lastStep: number | null;
}

export interface CreateExternalInput {
  name: string;
  tags?: string[];
  config?: unknown;
  /** Steps the trainer expects to log, when it knows (progress and compare's x axis). */
  totalSteps?: number | null;
}

const FINISHED: readonly RunStatus[] = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED];
const MAX_STEP = 2 ** 31 - 1;

function intField(v: unknown, field: string, step: number, max = MAX_STEP): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new ExternalInputError(
      field,
      `step ${step}: ${field} = ${JSON.stringify(v)}; an integer from 0 to ${max} is required`,
    );
  }
  return v;
}

function finiteField(v: unknown, field: string, step: number): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ExternalInputError(
      field,
      `step ${step}: ${field} = ${typeof v === "number" ? String(v) : JSON.stringify(v)}; a finite number is required`,
    );
  }
  return v;
}

const sameNumber = (a: number | null, b: number | null) => (a === null ? b === null : b !== null && a === b);

/** The first field whose stored value differs from the re-sent one, or null when the row is the same. */
function difference(stored: BatchRow, sent: BatchRow): string | null {
  for (const f of ["epoch", "batch", "samples", "timeMs", ...METRICS] as const) {
    if (!sameNumber(stored[f] === null ? null : Number(stored[f]), sent[f])) return f;
  }
  const a = stored.custom ?? {};
  const b = sent.custom ?? {};
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!sameNumber(a[name] ?? null, b[name] ?? null)) return `custom.${name}`;
  }
  return null;
}

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
    const name = input.name.trim();
    if (name.length < 1 || name.length > 200)
      throw new ExternalInputError("name", `name must be 1 to 200 characters, got ${name.length}`);
    const tags = input.tags ?? [];
    if (tags.length > 50 || tags.some((t) => t.length < 1 || t.length > 100))
      throw new ExternalInputError("tags", "tags: at most 50, each 1 to 100 characters");
    const config = input.config ?? {};
    if (typeof config !== "object" || config === null || Array.isArray(config))
      throw new ExternalInputError("config", `config must be a JSON object, got ${JSON.stringify(config)}`);
    if (JSON.stringify(config).length > 65_536)
      throw new ExternalInputError("config", "config must serialize to at most 65536 characters");
    const total = input.totalSteps ?? 0;
    if (!Number.isSafeInteger(total) || total < 0 || total > MAX_STEP)
      throw new ExternalInputError("totalSteps", `totalSteps must be an integer from 0 to ${MAX_STEP}`);
    const now = new Date();
    const created = await this.#db.createRun({
      name,
      kind: RunKind.EXTERNAL,
      modelId: null,
      datasetId: null,
      hyperparameters: config as JsonObject,
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
    if (!run) throw new ExternalNotFoundError(`unknown run id ${runId}`);
    if (run.kind !== RunKind.EXTERNAL) {
      throw new ExternalInputError(
        "runId",
        `run ${runId} is ${run.kind}: only EXTERNAL runs (createRun) accept logged metrics`,
      );
    }
    return run;
  }

  /** Validates and normalizes one call's rows (defaults filled), or throws naming step and field. */
  #normalize(rows: readonly LogRow[]): { rows: BatchRow[]; custom: CustomValue[] } {
    if (rows.length > this.#limits.maxLogRows) {
      throw new ExternalInputError(
        "rows",
        `${rows.length} rows in one call; at most ${this.#limits.maxLogRows} (MAX_LOG_ROWS): send them in several calls`,
      );
    }
    const byStep = new Map<number, BatchRow>();
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const at = `rows[${i}]`;
      if (typeof r.step !== "number" || !Number.isSafeInteger(r.step) || r.step < 0 || r.step > MAX_STEP) {
        throw new ExternalInputError(
          `${at}.step`,
          `${at}.step = ${JSON.stringify(r.step)}; an integer from 0 to ${MAX_STEP} is required`,
        );
      }
      const step = r.step;
      const row: BatchRow = {
        step,
        epoch: r.epoch == null ? 0 : intField(r.epoch, "epoch", step),
        batch: r.batch == null ? step : intField(r.batch, "batch", step),
        loss: null,
        accuracy: null,
        lr: null,
        gradNorm: null,
        confidence: null,
        trueClassProb: null,
        samples: r.samples == null ? 0 : intField(r.samples, "samples", step),
        timeMs: r.timeMs == null ? 0 : finiteField(r.timeMs, "timeMs", step),
      };
      for (const m of METRICS) {
        const v = r[m as Metric];
        if (v != null) row[m] = finiteField(v, m, step);
      }
      if (r.custom != null) row.custom = this.#customOf(r.custom, step);
      const seen = byStep.get(step);
      if (seen) {
        const diff = difference(seen, row);
        if (diff) {
          throw new ExternalInputError(
            `${at}.${diff}`,
            `step ${step} appears twice in this call with different ${diff}; send each step once`,
          );
        }
        continue;
      }
      byStep.set(step, row);
    }
    const sorted = [...byStep.values()].sort((a, b) => a.step - b.step);
    const custom: CustomValue[] = [];
    for (const r of sorted) {
      for (const [name, value] of Object.entries(r.custom ?? {})) custom.push({ step: r.step, name, value });
    }
    return { rows: sorted, custom };
  }

  #customOf(raw: unknown, step: number): Record<string, number> {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new ExternalInputError(
        "custom",
        `step ${step}: custom must be an object of name → number, like {"perplexity": 12.3}`,
      );
    }
    const out: Record<string, number> = {};
    for (const [name, v] of Object.entries(raw)) {
      if (name.length > this.#limits.maxMetricNameLength || !CUSTOM_NAME.test(name)) {
        throw new ExternalInputError(
          `custom.${name.slice(0, 100)}`,
          `step ${step}: custom metric name ${JSON.stringify(name.slice(0, 100))} is not accepted: ` +
            `1 to ${this.#limits.maxMetricNameLength} characters (MAX_METRIC_NAME_LENGTH) of letters, digits and _ . / -, starting with a letter or _`,
        );
      }
      out[name] = finiteField(v, `custom.${name}`, step);
    }
    return out;
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
    const { rows, custom } = this.#normalize(input);
    return this.#serial(runId, async () => {
      let run = await this.#externalRun(runId);
      if (FINISHED.includes(run.status)) {
        throw new ExternalInputError(
          "runId",
          `run ${runId} is ${run.status}; a finished run accepts no more metrics (create a new run)`,
        );
      }
      if (rows.length === 0) return { stored: 0, ignored: 0, lastStep: run.lastStep };
      const known = await this.#knownNames(runId);
      const fresh = new Set(custom.map((c) => c.name).filter((n) => !known.has(n)));
      if (known.size + fresh.size > this.#limits.maxCustomMetrics) {
        throw new ExternalInputError(
          "custom",
          `run ${runId} would have ${known.size + fresh.size} custom metrics; at most ${this.#limits.maxCustomMetrics} (MAX_CUSTOM_METRICS)`,
        );
      }
      // Rows at or below the highest stored step may be there already: compare them with what is stored.
      const maybe = run.lastStep === null ? [] : rows.filter((r) => r.step <= (run.lastStep as number));
      const stored = new Map(
        (
          await this.#db.rowsAtSteps(
            runId,
            maybe.map((r) => r.step),
          )
        ).map((r) => [Number(r.step), r]),
      );
      for (const r of maybe) {
        const s = stored.get(r.step);
        const diff = s ? difference(s, r) : null;
        if (diff) {
          throw new ExternalInputError(
            `rows.${diff}`,
            `step ${r.step} is already stored with a different ${diff} (stored ${JSON.stringify(diffValue(s as BatchRow, diff))}, sent ${JSON.stringify(diffValue(r, diff))}); a step's values cannot change`,
          );
        }
      }
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
      this.#buses.batches.publish(`batches:${runId}`, { runId, rows: newRows, lastStep: last, final: false });
      const lastStep = Math.max(last, run.lastStep ?? -1);
      return { stored: n, ignored: rows.length - newRows.length, lastStep };
    });
  }

  /** logEpoch: upserts per-epoch train/validation values (a re-sent epoch replaces its values). */
  async logEpoch(runId: number, epochs: readonly LogEpochInput[]): Promise<number> {
    if (epochs.length > 10_000)
      throw new ExternalInputError("epochs", `${epochs.length} epochs in one call; at most 10000`);
    const rows: EpochRow[] = epochs.map((e, i) => {
      const at = `epochs[${i}]`;
      const epoch = intField(e.epoch, `${at}.epoch`, -1);
      const opt = (v: number | null | undefined, f: string) =>
        v == null ? null : finiteField(v, `${at}.${f}`, epoch);
      return {
        epoch,
        trainLoss: finiteField(e.trainLoss, `${at}.trainLoss`, epoch),
        trainAccuracy: finiteField(e.trainAccuracy, `${at}.trainAccuracy`, epoch),
        valLoss: opt(e.valLoss, "valLoss"),
        valAccuracy: opt(e.valAccuracy, "valAccuracy"),
        batches: e.batches == null ? 0 : intField(e.batches, `${at}.batches`, epoch),
        timeMs: e.timeMs == null ? 0 : finiteField(e.timeMs, `${at}.timeMs`, epoch),
      };
    });
    return this.#serial(runId, async () => {
      const run = await this.#externalRun(runId);
      if (FINISHED.includes(run.status)) {
        throw new ExternalInputError(
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
      throw new ExternalInputError("status", `status must be COMPLETED, FAILED or CANCELLED, got ${status}`);
    }
    if (message !== null && message.length > 10_000)
      throw new ExternalInputError(
        "message",
        `message must be at most 10000 characters, got ${message.length}`,
      );
    return this.#serial(runId, async () => {
      const run = await this.#externalRun(runId);
      if (FINISHED.includes(run.status)) {
        if (run.status === status) return (await this.#db.getRun(runId)) as Run;
        throw new ExternalInputError(
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

function diffValue(row: BatchRow, field: string): number | null {
  if (field.startsWith("custom.")) return row.custom?.[field.slice(7)] ?? null;
  const v = row[field as keyof BatchRow];
  return typeof v === "number" ? v : null;
}
