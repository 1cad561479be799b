// gradstream's persistence: the only module that imports the Prisma client.
//
// openDatabase(url) picks SQLite (`file:…`) or PostgreSQL (`postgres://…`), applies the committed
// migrations, and returns a Db: Prisma for the low-rate CRUD (and for the GraphQL layer's
// @pothos/plugin-prisma via `db.prisma`), the driver directly for the two hot paths (batch writes,
// downsampled history), see sqlite.ts and postgres.ts for why.
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as PgPrismaClient } from "../generated/postgresql/client.ts";
import {
  type Dataset,
  type Model,
  type ModelSource,
  Prisma,
  PrismaClient,
  type Run,
  RunKind,
  RunStatus,
} from "../generated/sqlite/client.ts";
import { openPostgresStore } from "./postgres.ts";
import { mergePartials, type PartialBucket, planHistory } from "./rollup.ts";
import { countRuns, durationOf, type ListRunsOptions, listRuns } from "./run-list.ts";
import {
  CUSTOM_NAME,
  customAtStepsSql,
  customHistorySql,
  customNamesSql,
  customValuesSql,
  edgeRowSql,
  historySql,
  int,
  pageBeforeSql,
  pageSql,
  rowsAtStepsSql,
} from "./sql.ts";
import { openSqliteStore, sqlitePath } from "./sqlite.ts";
import { DatabaseUnavailableError, databaseUnavailable, StorageError, storageFailure } from "./storage.ts";
import { insertSystemSql, type SystemRow, systemRangeSql } from "./system.ts";
import {
  type BatchPage,
  type BatchRow,
  type CheckpointRow,
  type CustomValue,
  type EpochRow,
  type History,
  type HistoryOptions,
  METRICS,
  type MetricStats,
  type Store,
} from "./types.ts";

// For the GraphQL layer's @pothos/plugin-prisma: `SchemaBuilder<{ PrismaTypes: PrismaTypes }>` with
// `prisma: { client: db.prisma, dmmf: getDatamodel() }` (the Rust-free client has no Prisma.dmmf).
export type { default as PrismaTypes } from "../generated/pothos-types.ts";
export { getDatamodel } from "../generated/pothos-types.ts";
export type { Checkpoint, Dataset, EpochMetric, Model, Prisma, Run } from "../generated/sqlite/client.ts";
export { ModelSource, RunKind, RunStatus } from "../generated/sqlite/client.ts";
export type { ListRunsOptions, RunSortKey } from "./run-list.ts";
export { DatabaseUnavailableError, databaseUnavailable, StorageError, storageFailure } from "./storage.ts";
export type { SystemRow } from "./system.ts";
export type * from "./types.ts";
export { METRICS, ROW_FIELDS } from "./types.ts";

/** A Model row without its ONNX bytes (Db.modelOnnx reads those). */
export type ModelInfo = Omit<Model, "onnx">;
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface ModelInput {
  name: string;
  source: ModelSource;
  onnx?: Uint8Array | null;
  path?: string | null;
  contentHash: string;
  inputShape: number[];
  classes: number;
  parameterCount: number;
  opSummary: Record<string, number>;
}

export interface DatasetInput {
  name: string;
  kind: string;
  parameters: JsonObject;
  inputShape: number[];
  classes: number;
  trainSize: number;
  valSize: number;
}

export interface RunInput {
  name: string;
  /** TRAINED (default) or EXTERNAL (no model or dataset: modelId and datasetId null). */
  kind?: RunKind;
  modelId: number | null;
  datasetId: number | null;
  hyperparameters: JsonObject;
  providerRequested?: string;
  seed: number;
  stepsPerChunk: number;
  totalSteps: number;
  tags?: string[];
  /** Early stopping as admitted (src/runs/watch.ts); null or absent: none. */
  earlyStopping?: JsonObject | null;
  /** Alert webhooks and plateau rule as admitted (src/runs/alerts.ts); null or absent: none. */
  alerts?: JsonObject | null;
  /** The sweep the run belongs to, set at creation so a trial is never launched without it. */
  sweepId?: number | null;
}

/** The fields the run lifecycle changes; progress counters are maintained by writeBatchChunk/writeEpoch. */
export interface RunUpdate {
  status?: RunStatus;
  providerUsed?: string | null;
  /** onnxruntime intra-op threads of the run's latest start. */
  threads?: number | null;
  errorMessage?: string | null;
  failedAtStep?: number | null;
  startedAt?: Date | null;
  finishedAt?: Date | null;
  totalSteps?: number;
  name?: string;
  tags?: string[];
  /** Why a run stopped before its last step (early stopping, an ASHA rung), the step, the best checkpoint's. */
  stopReason?: string | null;
  stoppedAtStep?: number | null;
  bestStep?: number | null;
}

export interface Recovery {
  /** Runs that were RUNNING when the last process died, now INTERRUPTED (resumable from a checkpoint). */
  interrupted: number[];
  /** QUEUED runs, oldest first, for the queue to pick up again. */
  queued: number[];
}

export type Dialect = "sqlite" | "postgresql";

export interface DatabaseOptions {
  /** DB_RETRY_DEADLINE_MS: how long run writes retry while the database server is unreachable (60000). */
  retryDeadlineMs?: number;
}

export class Db {
  /** For the GraphQL layer (@pothos/plugin-prisma); typed as the SQLite client, whose API is identical. */
  readonly prisma: PrismaClient;
  readonly dialect: Dialect;
  /** The migrations openDatabase applied (empty when the database was already up to date). */
  readonly appliedMigrations: readonly string[];
  readonly #store: Store;
  /** The reason of the last storage failure of a write, until a write succeeds again (see assertWritable). */
  #writeFailure: string | null = null;
  readonly #retryDeadlineMs: number;

  constructor(prisma: PrismaClient, store: Store, opts: DatabaseOptions = {}) {
    this.prisma = prisma;
    this.#store = store;
    this.dialect = store.dialect;
    this.appliedMigrations = store.applied;
    this.#retryDeadlineMs = opts.retryDeadlineMs ?? 60_000;
  }

  /**
   * Runs an idempotent write, retrying it with backoff (0.1 s doubling to 2 s) while the database server
   * is unreachable, for up to DB_RETRY_DEADLINE_MS; then throws DatabaseUnavailableError with the reason.
   * Every write wrapped here may be repeated safely: a chunk skips the steps already stored (a commit
   * whose answer was lost is not stored twice), the others set values or upsert by key.
   */
  async #retrying<T>(what: string, write: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
      try {
        return await write();
      } catch (err) {
        const reason = databaseUnavailable(err);
        if (reason === null) throw err;
        const waited = Date.now() - started;
        if (waited + wait > this.#retryDeadlineMs) {
          throw new DatabaseUnavailableError(
            `${reason}; ${what} was retried for ${waited} ms and gave up (DB_RETRY_DEADLINE_MS=${this.#retryDeadlineMs}); ` +
              "what was stored before is kept: once the database is back, resumeRun continues from the last checkpoint",
          );
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  async close(): Promise<void> {
    await this.prisma.$disconnect();
    await this.#store.close();
  }

  // ── models and datasets ────────────────────────────────────────────────────────────────────────
  // Model rows come without their ONNX bytes and checkpoints' state is read on its own, through the
  // store's raw SQL (a Buffer): Prisma's SQLite adapter turns a BLOB into an array of numbers and back,
  // which held the event loop 0.5 s for the seed CNN's 3.3 MB model at every run start.
  createModel(input: ModelInput): Promise<ModelInfo> {
    return this.prisma.model.create({
      data: { ...input, onnx: input.onnx ? bytes(input.onnx) : null, path: input.path ?? null },
      omit: NO_ONNX,
    });
  }
  getModel(id: number): Promise<ModelInfo | null> {
    return this.prisma.model.findUnique({ where: { id }, omit: NO_ONNX });
  }
  findModelByName(name: string): Promise<ModelInfo | null> {
    return this.prisma.model.findUnique({ where: { name }, omit: NO_ONNX });
  }
  listModels(): Promise<ModelInfo[]> {
    return this.prisma.model.findMany({ orderBy: { id: "asc" }, omit: NO_ONNX });
  }
  /** A model's stored ONNX bytes; null when it has none (read from its path) or does not exist. */
  modelOnnx(id: number): Promise<Uint8Array | null> {
    return this.#blob("Model", "onnx", id);
  }
  /** A checkpoint's serialized state by its row id; null when the row is gone. */
  checkpointState(id: number): Promise<Uint8Array | null> {
    return this.#blob("Checkpoint", "state", id);
  }
  /** One BLOB column of the row with this id, as a plain Uint8Array; null when absent or NULL. */
  async #blob(
    table: "Model" | "Checkpoint",
    column: "onnx" | "state",
    id: number,
  ): Promise<Uint8Array | null> {
    if (!Number.isSafeInteger(id)) throw new Error(`row id must be an integer, got ${String(id)}`);
    const [row] = await this.#store.all<Record<string, Uint8Array | null>>(
      `SELECT "${column}" FROM "${table}" WHERE "id" = ${id}`,
    );
    const v = row?.[column];
    return v ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : null;
  }
  createDataset(input: DatasetInput): Promise<Dataset> {
    return this.prisma.dataset.create({ data: input });
  }
  getDataset(id: number): Promise<Dataset | null> {
    return this.prisma.dataset.findUnique({ where: { id } });
  }
  findDatasetByName(name: string): Promise<Dataset | null> {
    return this.prisma.dataset.findUnique({ where: { name } });
  }
  listDatasets(): Promise<Dataset[]> {
    return this.prisma.dataset.findMany({ orderBy: { id: "asc" } });
  }

  // ── runs ───────────────────────────────────────────────────────────────────────────────────────
  async createRun(input: RunInput): Promise<Run> {
    await this.assertWritable();
    try {
      return await this.prisma.run.create({
        data: {
          ...input,
          kind: input.kind ?? RunKind.TRAINED,
          tags: input.tags ?? [],
          // A nullable Json column takes undefined for SQL NULL (null would need Prisma.DbNull).
          earlyStopping: input.earlyStopping ?? undefined,
          alerts: input.alerts ?? undefined,
          tagRows: { create: [...new Set(input.tags ?? [])].map((tag) => ({ tag })) },
        },
      });
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2003") {
        throw new Error(
          `cannot create run: unknown model id ${input.modelId} or dataset id ${input.datasetId}`,
        );
      }
      throw err;
    }
  }
  getRun(id: number): Promise<Run | null> {
    return this.prisma.run.findUnique({ where: { id } });
  }
  /** Up to `first` runs matching the filter, keyset-paginated in the order asked (see run-list.ts). */
  listRuns(opts: ListRunsOptions): Promise<Run[]> {
    return listRuns(this.prisma, opts);
  }
  /** How many runs match listRuns' filter (a connection's totalCount). */
  countRuns(opts: Omit<ListRunsOptions, "first">): Promise<number> {
    return countRuns(this.prisma, opts);
  }
  /** Throws `unknown run id N` when the run does not exist. */
  async updateRun(id: number, data: RunUpdate): Promise<Run> {
    try {
      const { tags, ...rest } = data;
      // Tags are kept in RunTag too (indexed for the runs filter), in the same transaction.
      const run = await this.#retrying(`run ${id}'s update`, async () =>
        tags === undefined
          ? this.prisma.run.update({ where: { id }, data: rest })
          : (
              await this.prisma.$transaction([
                this.prisma.runTag.deleteMany({ where: { runId: id } }),
                this.prisma.run.update({
                  where: { id },
                  data: { ...rest, tags, tagRows: { create: [...new Set(tags)].map((tag) => ({ tag })) } },
                }),
              ])
            )[1],
      );
      const durationMs = durationOf(run);
      if ("finishedAt" in data && durationMs !== run.durationMs)
        return await this.#retrying(`run ${id}'s update`, () =>
          this.prisma.run.update({ where: { id }, data: { durationMs } }),
        );
      return run;
    } catch (err) {
      throw notFound(err, id);
    }
  }
  /** Deletes the run with its batch and epoch metrics, rollups and checkpoints; false if it did not exist. */
  deleteRun(id: number): Promise<boolean> {
    int(id, "run id");
    return this.#store.deleteRun(id);
  }

  /**
   * At start, before any runner: a run left RUNNING belonged to a process that died, so it becomes
   * INTERRUPTED (resumable from its latest checkpoint); QUEUED runs are returned for requeueing.
   * With several processes on one PostgreSQL database, pass `staleAfterMs` (e.g. 60_000): only RUNNING
   * runs whose heartbeat (every persisted chunk, or `heartbeat`) is older than that are interrupted.
   */
  async recoverAfterCrash(opts: { staleAfterMs?: number } = {}): Promise<Recovery> {
    const stale =
      opts.staleAfterMs === undefined
        ? {}
        : { OR: [{ heartbeatAt: null }, { heartbeatAt: { lt: new Date(Date.now() - opts.staleAfterMs) } }] };
    const where = { status: RunStatus.RUNNING, ...stale };
    const running = await this.prisma.run.findMany({ where, select: { id: true }, orderBy: { id: "asc" } });
    const interrupted = running.map((r) => r.id);
    if (interrupted.length) {
      await this.prisma.run.updateMany({
        where: { ...where, id: { in: interrupted } },
        data: {
          status: RunStatus.INTERRUPTED,
          errorMessage:
            "interrupted: the process training this run stopped; resume it from its latest checkpoint",
        },
      });
    }
    const queued = await this.prisma.run.findMany({
      where: { status: RunStatus.QUEUED },
      orderBy: { id: "asc" },
      select: { id: true },
    });
    return { interrupted, queued: queued.map((r) => r.id) };
  }

  /**
   * For RESUME_ON_START: counts a crash for each run recovery just interrupted (`crashed`), fails those
   * that reached `maxCrashes` crashes with no new step stored in between (a chunk write resets the
   * count), and returns the INTERRUPTED runs to resume: the crashed ones and those whose reason is
   * `shutdownMessage` (left by a graceful stop).
   */
  async runsToResumeOnStart(
    crashed: readonly number[],
    maxCrashes: number,
    shutdownMessage: string,
  ): Promise<{ resume: number[]; failed: number[] }> {
    // Only runs trained here resume: an EXTERNAL run stays INTERRUPTED until its trainer logs again.
    const trained = await this.prisma.run.findMany({
      where: { id: { in: [...crashed] }, kind: RunKind.TRAINED },
      select: { id: true },
    });
    const ids = trained.map((r) => r.id);
    if (ids.length)
      await this.prisma.run.updateMany({ where: { id: { in: ids } }, data: { crashes: { increment: 1 } } });
    const looping = await this.prisma.run.findMany({
      where: { id: { in: ids }, crashes: { gte: maxCrashes } },
      select: { id: true, crashes: true },
    });
    for (const r of looping) {
      await this.prisma.run.update({
        where: { id: r.id },
        data: {
          status: RunStatus.FAILED,
          finishedAt: new Date(),
          errorMessage:
            `failed: the process training this run died ${r.crashes} times in a row without storing a new step ` +
            `(MAX_TRAINER_CRASHES=${maxCrashes}), so it is not resumed again on start; resumeRun to try once more`,
        },
      });
    }
    const resume = await this.prisma.run.findMany({
      where: {
        status: RunStatus.INTERRUPTED,
        kind: RunKind.TRAINED,
        OR: [{ id: { in: ids } }, { errorMessage: shutdownMessage }],
      },
      orderBy: { id: "asc" },
      select: { id: true },
    });
    return { resume: resume.map((r) => r.id), failed: looping.map((r) => r.id) };
  }

  /** Marks a run as alive (chunk writes do this too); for long phases without batches, e.g. evaluation. */
  async heartbeat(runId: number): Promise<void> {
    try {
      await this.#retrying(`run ${runId}'s heartbeat`, () =>
        this.prisma.run.update({
          where: { id: runId },
          data: { heartbeatAt: new Date() },
          select: { id: true },
        }),
      );
    } catch (err) {
      throw notFound(err, runId);
    }
  }

  // ── the write path ─────────────────────────────────────────────────────────────────────────────
  /**
   * Persists one runner chunk in one transaction and resolves only after it committed: publish after
   * this resolves (persist first), and await it before training further (backpressure). Idempotent on
   * (runId, step): rows whose step is already stored are skipped (the stored values win), so a replayed
   * chunk adds nothing. Resolves to the number of rows newly stored. Updates the run's stepsCompleted and
   * lastStep and the rollups in the same transaction. Rejects non-finite metrics naming step and field.
   */
  async writeBatchChunk(
    runId: number,
    rows: readonly BatchRow[],
    custom?: readonly CustomValue[],
  ): Promise<number> {
    const stored = await this.#storing(() =>
      this.#retrying(
        `run ${runId}'s write of steps ${rows[0]?.step ?? "-"}…${rows.at(-1)?.step ?? "-"}`,
        () => this.#store.writeChunk(runId, rows, custom),
      ),
    );
    this.#writeFailure = null;
    return stored;
  }

  /**
   * Throws the last storage failure while writes are failing (a full disk): new runs are refused with
   * the reason the stopped runs got. Once the store reports room again (space freed), it clears.
   */
  async assertWritable(): Promise<void> {
    if (this.#writeFailure === null) return;
    if (await this.#store.hasRoom()) this.#writeFailure = null;
    else throw new StorageError(this.#writeFailure);
  }

  /** Runs a write; a storage failure becomes a StorageError naming the cause, and is remembered. */
  async #storing<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      const reason = storageFailure(err);
      if (reason === null) throw err;
      this.#writeFailure = reason;
      throw new StorageError(reason);
    }
  }

  /** The stored rows at these steps, each with its custom values (to check a re-sent step against). */
  async rowsAtSteps(runId: number, steps: readonly number[]): Promise<BatchRow[]> {
    if (steps.length === 0) return [];
    const [rows, values] = await Promise.all([
      this.#store.all<BatchRow>(rowsAtStepsSql(runId, steps)),
      this.#store.all<CustomValue>(customAtStepsSql(runId, steps)),
    ]);
    const byStep = new Map(rows.map((r) => [Number(r.step), r]));
    for (const v of values) {
      const r = byStep.get(Number(v.step));
      if (r) r.custom = { ...r.custom, [v.name]: v.value };
    }
    return rows;
  }

  /**
   * A run's kind, status and highest step, read by the driver (no Prisma query compilation): the
   * logMetrics hot path asks this on every call.
   */
  async runState(
    runId: number,
  ): Promise<{ kind: RunKind; status: RunStatus; lastStep: number | null } | null> {
    const rows = await this.#store.all<{ kind: RunKind; status: RunStatus; lastStep: number | null }>(
      `SELECT "kind", "status", "lastStep" FROM "Run" WHERE "id" = ${int(runId, "run id")}`,
    );
    return rows[0] ?? null;
  }

  /** The names of a run's custom metrics, sorted. */
  async customMetricNames(runId: number): Promise<string[]> {
    return (await this.#store.all<{ name: string }>(customNamesSql(runId))).map((r) => r.name);
  }

  /** Attaches each row's custom metric values (`row.custom`), read for the rows' step range. */
  private async withCustom(runId: number, rows: BatchRow[]): Promise<BatchRow[]> {
    if (rows.length === 0) return rows;
    const values = await this.#store.all<CustomValue>(
      customValuesSql(runId, rows[0].step, rows[rows.length - 1].step),
    );
    if (values.length === 0) return rows;
    const byStep = new Map<number, Record<string, number>>();
    for (const v of values) {
      const step = Number(v.step);
      let m = byStep.get(step);
      if (!m) {
        m = {};
        byStep.set(step, m);
      }
      m[v.name] = v.value;
    }
    for (const r of rows) {
      const c = byStep.get(r.step);
      if (c) r.custom = c;
    }
    return rows;
  }

  /** Upserts an epoch's aggregates and raises the run's epochsCompleted and bestValAccuracy. */
  writeEpoch(runId: number, e: EpochRow): Promise<void> {
    return this.#storing(() =>
      this.#retrying(`run ${runId}'s epoch ${e.epoch}`, () => this.#writeEpoch(runId, e)),
    );
  }

  async #writeEpoch(runId: number, e: EpochRow): Promise<void> {
    const better =
      e.valAccuracy === null ? [] : [{ bestValAccuracy: null }, { bestValAccuracy: { lt: e.valAccuracy } }];
    try {
      // One transaction; the counters only ever rise, so a replayed or late epoch cannot lower them.
      await this.prisma.$transaction([
        this.prisma.epochMetric.upsert({
          where: { runId_epoch: { runId, epoch: e.epoch } },
          create: { runId, ...e },
          update: e,
        }),
        this.prisma.run.updateMany({
          where: { id: runId, epochsCompleted: { lt: e.epoch + 1 } },
          data: { epochsCompleted: e.epoch + 1 },
        }),
        ...(better.length
          ? [
              this.prisma.run.updateMany({
                where: { id: runId, OR: better },
                data: { bestValAccuracy: e.valAccuracy },
              }),
            ]
          : []),
      ]);
    } catch (err) {
      throw notFound(err, runId);
    }
  }

  epochMetrics(runId: number): Promise<(EpochRow & { runId: number })[]> {
    return this.prisma.epochMetric.findMany({ where: { runId }, orderBy: { epoch: "asc" } });
  }

  /**
   * Stores a checkpoint; saving the same (run, step) again replaces its state. Written by the store
   * off the event loop; the state's buffer may be handed over to the writer thread (do not reuse it).
   */
  saveCheckpoint(runId: number, cp: { step: number; epoch: number; state: Uint8Array }): Promise<void> {
    return this.#storing(() =>
      this.#retrying(`run ${runId}'s checkpoint at step ${cp.step}`, () => this.#saveCheckpoint(runId, cp)),
    );
  }

  async #saveCheckpoint(
    runId: number,
    cp: { step: number; epoch: number; state: Uint8Array },
  ): Promise<void> {
    await this.#store.saveCheckpoint(runId, cp.step, cp.epoch, cp.state);
  }

  async latestCheckpoint(runId: number): Promise<CheckpointRow | null> {
    const cp = await this.prisma.checkpoint.findFirst({
      where: { runId },
      orderBy: { step: "desc" },
      omit: { state: true },
    });
    const state = cp && (await this.checkpointState(cp.id));
    return cp && state ? { step: cp.step, epoch: cp.epoch, state, createdAt: cp.createdAt } : null;
  }

  // ── the read path ──────────────────────────────────────────────────────────────────────────────
  /** Keyset page: rows with step > afterStep (−1 for the start), ascending, at most `first`. */
  async batchMetricsPage(runId: number, afterStep: number, first: number): Promise<BatchPage> {
    if (!Number.isSafeInteger(first) || first < 1 || first > 10_000) {
      throw new Error(`first must be an integer from 1 to 10000, got ${String(first)}`);
    }
    const rows = await this.#store.all<BatchRow>(pageSql(runId, afterStep, first + 1));
    const hasNextPage = rows.length > first;
    if (hasNextPage) rows.pop();
    await this.withCustom(runId, rows);
    return { rows, hasNextPage, endStep: rows.length ? rows[rows.length - 1].step : null };
  }

  /** The `last` rows before `beforeStep` in step order; hasPreviousPage when more precede them. */
  async batchMetricsPageBefore(
    runId: number,
    beforeStep: number,
    last: number,
  ): Promise<{ rows: BatchRow[]; hasPreviousPage: boolean }> {
    if (!Number.isSafeInteger(last) || last < 1 || last > 10_000) {
      throw new Error(`last must be an integer from 1 to 10000, got ${String(last)}`);
    }
    const rows = await this.#store.all<BatchRow>(pageBeforeSql(runId, beforeStep, last + 1));
    const hasPreviousPage = rows.length > last;
    if (hasPreviousPage) rows.pop();
    rows.reverse();
    await this.withCustom(runId, rows);
    return { rows, hasPreviousPage };
  }

  /**
   * Downsampled history of the steps in [fromStep, toStep] (default: all), at most maxPoints buckets on
   * an absolute grid of width `bucketWidth`, each with first/last step, count and min/max/mean of the
   * requested metrics. Reads ≈ maxPoints rollup rows plus the raw rows of the two partial edge buckets,
   * so it costs the same for 1,000 or 10,000,000 steps, and it is exact at the range's edges.
   */
  async history(runId: number, opts: HistoryOptions): Promise<History> {
    const metrics = [...new Set(opts.metrics)];
    for (const m of metrics) {
      if (!(METRICS as readonly string[]).includes(m))
        throw new Error(`unknown metric "${m}"; known: ${METRICS.join(", ")}`);
    }
    const custom = [...new Set(opts.custom ?? [])];
    for (const name of custom) {
      if (!CUSTOM_NAME.test(name))
        throw new Error(`custom metric name ${JSON.stringify(name)} must be letters, digits and _ . / -`);
    }
    if (!Number.isSafeInteger(opts.maxPoints) || opts.maxPoints < 1 || opts.maxPoints > 100_000) {
      throw new Error(`maxPoints must be an integer from 1 to 100000, got ${String(opts.maxPoints)}`);
    }
    const from = Math.max(0, opts.fromStep ?? 0);
    const to = Math.min(opts.toStep ?? 2 ** 31 - 1, 2 ** 31 - 1);
    int(runId, "run id");
    int(from, "fromStep");
    int(to, "toStep");
    const empty: History = { bucketWidth: 1, sourceLevel: 1, buckets: [], first: null, last: null };
    if (from > to) return empty;
    const [firstRows, lastRows] = await Promise.all([
      this.#store.all<BatchRow>(edgeRowSql(runId, from, to, "ASC")),
      this.#store.all<BatchRow>(edgeRowSql(runId, from, to, "DESC")),
    ]);
    const first = firstRows[0];
    const last = lastRows[0];
    if (!first || !last) return empty;
    const plan = planHistory(first.step, last.step, opts.maxPoints);
    type Raw = { ob: number; n: number; firstStep: number; lastStep: number } & Record<string, number | null>;
    const [raw, rawCustom] = await Promise.all([
      this.#store.all<Raw>(historySql(runId, plan, metrics)),
      custom.length
        ? this.#store.all<Raw & { name: string }>(customHistorySql(runId, plan, custom))
        : Promise.resolve([]),
    ]);
    const parts: PartialBucket[] = raw.map((r) => ({
      ob: Number(r.ob),
      n: Number(r.n),
      firstStep: r.firstStep,
      lastStep: r.lastStep,
      stats: r,
    }));
    // Custom series: partials keyed by name, merged per output bucket like the built-in ones.
    const customParts = new Map<number, Record<string, MetricStats>>();
    for (const name of custom) {
      const mine = rawCustom
        .filter((r) => r.name === name)
        .map((r) => ({
          ob: Number(r.ob),
          n: Number(r.n),
          firstStep: r.firstStep,
          lastStep: r.lastStep,
          stats: { n_v: Number(r.n), min_v: r.min, max_v: r.max, sum_v: r.sum },
        }));
      for (const p of mergePartials(mine, ["v"])) {
        let at = customParts.get(p.ob);
        if (!at) {
          at = {};
          customParts.set(p.ob, at);
        }
        at[name] = {
          min: Number(p.stats.min_v),
          max: Number(p.stats.max_v),
          mean: Number(p.stats.sum_v) / p.n,
        };
      }
    }
    const buckets = mergePartials(parts, metrics).map((p) => {
      const values: History["buckets"][number]["values"] = {};
      for (const m of metrics) {
        const n = Number(p.stats[`n_${m}`] ?? 0);
        if (n === 0) continue;
        values[m] = {
          min: Number(p.stats[`min_${m}`]),
          max: Number(p.stats[`max_${m}`]),
          mean: Number(p.stats[`sum_${m}`]) / n,
        };
      }
      return {
        firstStep: p.firstStep,
        lastStep: p.lastStep,
        count: p.n,
        values,
        custom: customParts.get(p.ob) ?? {},
      };
    });
    return { bucketWidth: plan.width, sourceLevel: plan.level, buckets, first, last };
  }

  /** Stores a chunk's system metrics (CPU, RSS, wall-clock span), keyed by the chunk's last step. */
  async writeSystemMetric(runId: number, row: SystemRow): Promise<void> {
    await this.#storing(() => this.#store.all(insertSystemSql(runId, row)));
  }

  /** System metrics of the chunks whose last step is in [from, to], in step order, at most `limit`. */
  async systemMetrics(runId: number, from: number, to: number, limit: number): Promise<SystemRow[]> {
    const rows = await this.#store.all<SystemRow>(systemRangeSql(runId, from, to, limit));
    // PostgreSQL's driver returns float8 as numbers and int4 as numbers; SQLite's too: normalise anyway.
    return rows.map((r) => ({ ...r, step: Number(r.step), firstStep: Number(r.firstStep) }));
  }

  /** Raw SQL for benchmarks and tests of the store (trusted text only). */
  rawQuery<T>(sql: string): Promise<T[]> {
    return this.#store.all<T>(sql);
  }
}

const NO_ONNX = { onnx: true } as const;

/** Prisma's Bytes want an ArrayBuffer-backed view; Node's Buffers may sit on a shared pool (copy then). */
function bytes(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u.buffer instanceof ArrayBuffer
    ? new Uint8Array(u.buffer, u.byteOffset, u.byteLength)
    : new Uint8Array(u);
}

function notFound(err: unknown, id: number): unknown {
  // P2025: record to update not found; P2003: foreign key (the run does not exist).
  if (err instanceof Prisma.PrismaClientKnownRequestError && (err.code === "P2025" || err.code === "P2003")) {
    return new Error(`unknown run id ${id}`);
  }
  return err;
}

/** Opens (creating if needed) the database at `url` and applies pending migrations. */
export async function openDatabase(url: string, opts: DatabaseOptions = {}): Promise<Db> {
  if (url.startsWith("file:")) {
    const store = await openSqliteStore(url);
    const prisma = new PrismaClient({
      adapter: new PrismaBetterSQLite3({ url: `file:${sqlitePath(url)}`, timeout: 10_000 }),
    });
    return new Db(prisma, store, opts);
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { store, pool } = await openPostgresStore(url);
    // The PostgreSQL client is generated from the same models (prisma/postgresql/schema.prisma, checked
    // by the drift test), so its API is the SQLite client's; one static type serves both.
    const prisma = new PgPrismaClient({ adapter: new PrismaPg(pool) }) as unknown as PrismaClient;
    return new Db(prisma, store, opts);
  }
  throw new Error(`DATABASE_URL must start with file: (SQLite) or postgres:// (PostgreSQL), got "${url}"`);
}
