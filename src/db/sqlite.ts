// SQLite store. The batch write path and the raw reads run on better-sqlite3 directly, in a worker
// thread that owns one connection; Prisma (through @prisma/adapter-better-sqlite3) keeps its own
// connection on the main thread for the low-rate CRUD.
//
// Why: Prisma createMany manages ≈ 2,000 rows/s and a raw INSERT through the adapter ≈ 16,000, while
// better-sqlite3's prepared statements do > 200,000 rows/s with the rollups. better-sqlite3 is
// synchronous, and a chunk's transaction (plus an occasional WAL checkpoint) takes milliseconds, so it
// runs off the main thread: the event loop only packs the rows into one Float64Array (transferred, not
// copied) and awaits the reply, which comes after COMMIT. One connection serializes the writes; WAL lets
// Prisma's connection read meanwhile. synchronous=NORMAL in WAL mode keeps every committed chunk across a
// process crash (a power cut may lose the last few commits; we accept that for speed).
import { existsSync, mkdirSync, statfsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { tsWorkerSource } from "../worker-bootstrap.ts";
import {
  checkDatabaseIsOurs,
  committedMigrations,
  MIGRATIONS_TABLE,
  type Migration,
  pendingMigrations,
} from "./migrate.ts";
import { customRollupDeltas, rollupDeltas } from "./rollup.ts";
import { validateRows } from "./sql.ts";
import { type BatchRow, type CustomValue, METRICS, ROW_FIELDS, type Store } from "./types.ts";

const cap = (m: string) => m[0].toUpperCase() + m.slice(1);
const WIDTH = ROW_FIELDS.length;

export function sqlitePath(url: string): string {
  const path = url.replace(/^file:/, "").replace(/\?.*$/, "");
  if (!path || path === ":memory:") {
    throw new Error(`DATABASE_URL "${url}" must name a database file, e.g. file:./data/gradstream.db`);
  }
  return path;
}

function connect(path: string): Database.Database {
  const db = new Database(path, { timeout: 10_000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  return db;
}

/**
 * Rows ⇄ one Float64Array in ROW_FIELDS order (integers up to 2^53 are exact in float64). A metric left
 * out (null) travels as NaN, which validateRows keeps out of real values.
 */
export function packRows(rows: readonly BatchRow[]): Float64Array {
  const out = new Float64Array(rows.length * WIDTH);
  let k = 0;
  for (const r of rows) for (const f of ROW_FIELDS) out[k++] = r[f] ?? Number.NaN;
  return out;
}
export function unpackRows(packed: Float64Array): BatchRow[] {
  const rows: BatchRow[] = [];
  for (let k = 0; k < packed.length; k += WIDTH) {
    const row = {} as Record<(typeof ROW_FIELDS)[number], number | null>;
    ROW_FIELDS.forEach((f, i) => {
      const v = packed[k + i];
      row[f] = Number.isNaN(v) ? null : v;
    });
    rows.push(row as BatchRow);
  }
  return rows;
}

// What hasRoom asks for before new runs are let in again after a full disk: a few chunks' worth.
const ROOM_PAGES = 256;
const ROOM_BYTES = 4 * 1024 * 1024;
const ROWS_PER_INSERT = 64;
const VALUES_PER_INSERT = 128;

/** Custom values ⇄ their distinct names and one Float64Array of (name index, step, value) triples. */
export function packCustom(values: readonly CustomValue[]): { names: string[]; packed: Float64Array } {
  const index = new Map<string, number>();
  const packed = new Float64Array(values.length * 3);
  let k = 0;
  for (const v of values) {
    let i = index.get(v.name);
    if (i === undefined) {
      i = index.size;
      index.set(v.name, i);
    }
    packed[k++] = i;
    packed[k++] = v.step;
    packed[k++] = v.value;
  }
  return { names: [...index.keys()], packed };
}
function unpackCustom(names: readonly string[], packed: Float64Array): CustomValue[] {
  const out: CustomValue[] = [];
  for (let k = 0; k < packed.length; k += 3) {
    out.push({ name: names[packed[k]], step: packed[k + 1], value: packed[k + 2] });
  }
  return out;
}

/** The synchronous connection the worker owns: one transaction per chunk. */
export function openSqliteWriter(path: string) {
  const db = connect(path);
  // Rows go in ROWS_PER_INSERT at a time through one cached multi-row statement (a statement per row
  // costs a round through better-sqlite3's argument binding each; 64 rows × 12 values stay far under
  // SQLite's 32,766 variables). OR IGNORE + RETURNING reports exactly the steps that were new.
  const rowValues = `(${Array(WIDTH + 1)
    .fill("?")
    .join(", ")})`;
  const insertSql = (n: number) =>
    `INSERT OR IGNORE INTO "BatchMetric" ("runId", ${ROW_FIELDS.map((f) => `"${f}"`).join(", ")})
     VALUES ${Array(n).fill(rowValues).join(", ")} RETURNING "step"`;
  const inserts = new Map<number, Database.Statement>();
  const insertRows = (n: number): Database.Statement => {
    let stmt = inserts.get(n);
    if (!stmt) {
      stmt = db.prepare(insertSql(n)).pluck();
      inserts.set(n, stmt);
    }
    return stmt;
  };
  insertRows(ROWS_PER_INSERT);
  const cols = METRICS.flatMap((m) => [`"n${cap(m)}"`, `"min${cap(m)}"`, `"max${cap(m)}"`, `"sum${cap(m)}"`]);
  const upsertRollup = db.prepare(
    `INSERT INTO "MetricRollup" ("runId", "level", "bucket", "count", "firstStep", "lastStep", ${cols.join(", ")})
     VALUES (${Array(6 + cols.length)
       .fill("?")
       .join(", ")})
     ON CONFLICT ("runId", "level", "bucket") DO UPDATE SET
       "count" = "count" + excluded."count",
       "firstStep" = min("firstStep", excluded."firstStep"),
       "lastStep" = max("lastStep", excluded."lastStep"),
       ${METRICS.map((m) => {
         const c = cap(m);
         // NULL while no row carried the metric: SQLite's two-argument min/max return NULL if either is.
         return (
           `"n${c}" = "n${c}" + excluded."n${c}", ` +
           `"min${c}" = coalesce(min("min${c}", excluded."min${c}"), "min${c}", excluded."min${c}"), ` +
           `"max${c}" = coalesce(max("max${c}", excluded."max${c}"), "max${c}", excluded."max${c}"), ` +
           `"sum${c}" = coalesce("sum${c}" + excluded."sum${c}", "sum${c}", excluded."sum${c}")`
         );
       }).join(",\n       ")}`,
  );
  // Custom values likewise, VALUES_PER_INSERT at a time; RETURNING names the (step, name) pairs that were new.
  const customStatements = new Map<number, Database.Statement>();
  const insertCustom = (n: number): Database.Statement => {
    let stmt = customStatements.get(n);
    if (!stmt) {
      stmt = db
        .prepare(
          `INSERT OR IGNORE INTO "CustomMetric" ("runId", "step", "name", "value") VALUES ${Array(n).fill("(?, ?, ?, ?)").join(", ")} RETURNING "step", "name"`,
        )
        .raw();
      customStatements.set(n, stmt);
    }
    return stmt;
  };
  const customArgs: (number | string)[] = new Array(VALUES_PER_INSERT * 4);
  /** Inserts the custom values; returns those that were new (a replayed value is skipped). */
  const writeCustom = (runId: number, values: CustomValue[]): CustomValue[] => {
    const fresh = new Set<string>();
    for (let start = 0; start < values.length; start += VALUES_PER_INSERT) {
      const n = Math.min(VALUES_PER_INSERT, values.length - start);
      const args = n === VALUES_PER_INSERT ? customArgs : new Array<number | string>(n * 4);
      let k = 0;
      for (let i = start; i < start + n; i++) {
        const c = values[i];
        args[k++] = runId;
        args[k++] = c.step;
        args[k++] = c.name;
        args[k++] = c.value;
      }
      for (const [step, name] of insertCustom(n).all(args) as [number, string][])
        fresh.add(`${step}\0${name}`);
    }
    return fresh.size === values.length ? values : values.filter((c) => fresh.delete(`${c.step}\0${c.name}`));
  };
  const upsertCustomRollup = db.prepare(
    `INSERT INTO "CustomRollup" ("runId", "name", "level", "bucket", "count", "firstStep", "lastStep", "min", "max", "sum")
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT ("runId", "name", "level", "bucket") DO UPDATE SET
       "count" = "count" + excluded."count",
       "firstStep" = min("firstStep", excluded."firstStep"),
       "lastStep" = max("lastStep", excluded."lastStep"),
       "min" = min("min", excluded."min"), "max" = max("max", excluded."max"), "sum" = "sum" + excluded."sum"`,
  );
  const bumpRun = db.prepare(
    `UPDATE "Run" SET "stepsCompleted" = "stepsCompleted" + ?, "lastStep" = max(coalesce("lastStep", -1), ?), "crashes" = 0,` +
      ` "lastLoss" = CASE WHEN ? >= coalesce("lastStep", -1) THEN ? ELSE "lastLoss" END WHERE "id" = ?`,
  );
  // Prisma's SQLite DateTime text format (what @prisma/adapter-better-sqlite3 writes and parses).
  const heartbeat = db.prepare(`UPDATE "Run" SET "heartbeatAt" = ? WHERE "id" = ?`);
  const runExists = db.prepare(`SELECT 1 FROM "Run" WHERE "id" = ?`).pluck();

  // Only the rows that were new (by step) feed the rollups and the progress counters: a replayed
  // chunk changes nothing.
  const writeTx = db.transaction(
    (runId: number, packed: Float64Array, names: readonly string[], customPacked: Float64Array): number => {
      if (runExists.get(runId) === undefined) throw new Error(`unknown run id ${runId}`);
      heartbeat.run(new Date().toISOString().replace("Z", "+00:00"), runId);
      const newCustom = writeCustom(runId, unpackCustom(names, customPacked));
      for (const d of customRollupDeltas(newCustom)) {
        upsertCustomRollup.run(
          runId,
          d.name,
          d.level,
          d.bucket,
          d.count,
          d.firstStep,
          d.lastStep,
          d.min,
          d.max,
          d.sum,
        );
      }
      return writeRows(runId, packed);
    },
  );
  const args: (number | null)[] = new Array(ROWS_PER_INSERT * (WIDTH + 1));
  const writeRows = (runId: number, packed: Float64Array): number => {
    const total = packed.length / WIDTH;
    const fresh = new Set<number>();
    for (let start = 0; start < total; start += ROWS_PER_INSERT) {
      const n = Math.min(ROWS_PER_INSERT, total - start);
      const values = n === ROWS_PER_INSERT ? args : new Array<number | null>(n * (WIDTH + 1));
      let k = 0;
      for (let i = start * WIDTH, end = (start + n) * WIDTH; i < end; i += WIDTH) {
        values[k++] = runId;
        for (let f = 0; f < WIDTH; f++) {
          const v = packed[i + f];
          values[k++] = Number.isNaN(v) ? null : v; // NaN: a metric left out
        }
      }
      for (const step of insertRows(n).all(values) as number[]) fresh.add(step);
    }
    if (fresh.size === 0) return 0;
    const rows = unpackRows(packed);
    const inserted = fresh.size === rows.length ? rows : rows.filter((r) => fresh.delete(r.step));
    for (const d of rollupDeltas(inserted)) {
      const stats: (number | null)[] = [];
      for (let i = 0; i < METRICS.length; i++) stats.push(d.n[i], d.min[i], d.max[i], d.sum[i]);
      upsertRollup.run(runId, d.level, d.bucket, d.count, d.firstStep, d.lastStep, ...stats);
    }
    let maxStep = -1;
    // Run.lastLoss: the loss of the highest new step carrying one, unless a later step is stored already.
    let lossStep = -2;
    let loss: number | null = null;
    for (const r of inserted) {
      if (r.step > maxStep) maxStep = r.step;
      if (r.loss !== null && r.step > lossStep) {
        lossStep = r.step;
        loss = r.loss;
      }
    }
    bumpRun.run(inserted.length, maxStep, lossStep, loss, runId);
    return inserted.length;
  };

  // Explicit deletes (children first) rather than relying on the connection's foreign_keys pragma.
  const deleteTx = db.transaction((runId: number): boolean => {
    for (const t of [
      "MetricRollup",
      "BatchMetric",
      "CustomRollup",
      "CustomMetric",
      "EpochMetric",
      "Checkpoint",
      "ValidationMetric",
      "AshaRung",
      "AlertDelivery",
      "RunTag",
      "SystemMetric",
    ]) {
      db.prepare(`DELETE FROM "${t}" WHERE "runId" = ?`).run(runId);
    }
    return db.prepare(`DELETE FROM "Run" WHERE "id" = ?`).run(runId).changes === 1;
  });

  // Prisma's SQLite DateTime text format, like the heartbeat above.
  const upsertCheckpoint = db.prepare(
    `INSERT INTO "Checkpoint" ("runId", "step", "epoch", "state", "createdAt") VALUES (?, ?, ?, ?, ?)
     ON CONFLICT ("runId", "step") DO UPDATE SET
       "epoch" = excluded."epoch", "state" = excluded."state", "createdAt" = excluded."createdAt"`,
  );
  const checkpointTx = db.transaction((runId: number, step: number, epoch: number, state: Uint8Array) => {
    if (runExists.get(runId) === undefined) throw new Error(`unknown run id ${runId}`);
    const at = new Date().toISOString().replace("Z", "+00:00");
    upsertCheckpoint.run(
      runId,
      step,
      epoch,
      Buffer.from(state.buffer, state.byteOffset, state.byteLength),
      at,
    );
    return null;
  });

  return {
    saveCheckpoint: (runId: number, step: number, epoch: number, state: Uint8Array): null =>
      checkpointTx.immediate(runId, step, epoch, state),
    // Room for a chunk: pages under max_page_count (free pages count) and bytes free on the disk.
    hasRoom: (): boolean => {
      const n = (p: string) => Number(db.pragma(p, { simple: true }));
      const pagesLeft = n("max_page_count") - n("page_count") + n("freelist_count");
      const disk = statfsSync(dirname(path));
      return pagesLeft >= ROOM_PAGES && disk.bavail * disk.bsize >= ROOM_BYTES;
    },
    deleteRun: (runId: number): boolean => deleteTx.immediate(runId),
    // `.immediate` takes the write lock up front, so it waits for Prisma's writes instead of failing.
    write: (
      runId: number,
      packed: Float64Array,
      names: readonly string[] = [],
      custom: Float64Array = new Float64Array(0),
    ): number => writeTx.immediate(runId, packed, names, custom),
    all: (sql: string): unknown[] => {
      const stmt = db.prepare(sql);
      if (stmt.reader) return stmt.all();
      stmt.run();
      return [];
    },
    close: (): null => {
      db.close();
      return null;
    },
  };
}

export type WorkerRequest =
  | {
      id: number;
      kind: "write";
      runId: number;
      packed: Float64Array;
      /** Custom metric values: their distinct names and (name index, step, value) triples. */
      names: string[];
      custom: Float64Array;
    }
  | { id: number; kind: "all"; sql: string }
  | { id: number; kind: "checkpoint"; runId: number; step: number; epoch: number; state: Uint8Array }
  | { id: number; kind: "delete"; runId: number }
  | { id: number; kind: "room" }
  | { id: number; kind: "close" };
export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string; code?: string };

export async function openSqliteStore(url: string): Promise<Store> {
  const path = sqlitePath(url);
  mkdirSync(dirname(path), { recursive: true });
  const applied = migrateSqlite(path, committedMigrations("sqlite"));

  const worker = new Worker(tsWorkerSource(new URL("./sqlite-worker.ts", import.meta.url)), {
    eval: true,
    workerData: { path },
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failure: Error | null = null;
  const failAll = (err: Error) => {
    failure ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  await new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
  worker.on("message", (reply: WorkerReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    if (reply.ok) p.resolve(reply.value);
    else p.reject(Object.assign(new Error(reply.error), reply.code ? { code: reply.code } : {}));
  });
  worker.on("error", (err) => failAll(err));
  worker.on("exit", (code) => failAll(new Error(`the SQLite writer thread exited (code ${code})`)));
  // The worker keeps the process alive only while a request is in flight.
  worker.unref();

  const call = (req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<unknown> => {
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      pending.set(req.id, { resolve, reject });
      if (pending.size === 1) worker.ref();
      worker.postMessage(req, transfer);
    });
  };

  return {
    dialect: "sqlite",
    applied,
    async writeChunk(runId, rows, customValues = []) {
      validateRows(runId, rows, customValues);
      const packed = packRows(rows);
      const { names, packed: custom } = packCustom(customValues);
      return (await call({ id: nextId++, kind: "write", runId, packed, names, custom }, [
        packed.buffer as ArrayBuffer,
        custom.buffer as ArrayBuffer,
      ])) as number;
    },
    // The state is transferred to the writer thread (not copied): the caller hands it over.
    async saveCheckpoint(runId, step, epoch, state) {
      const owned = state.byteOffset === 0 && state.byteLength === state.buffer.byteLength;
      const copy = owned && state.buffer instanceof ArrayBuffer ? state : new Uint8Array(state);
      await call({ id: nextId++, kind: "checkpoint", runId, step, epoch, state: copy }, [
        copy.buffer as ArrayBuffer,
      ]);
    },
    async all<T>(sql: string) {
      return (await call({ id: nextId++, kind: "all", sql })) as T[];
    },
    // A run of 1M rows takes a second or two to delete: in the worker, the event loop stays free.
    async deleteRun(runId) {
      return (await call({ id: nextId++, kind: "delete", runId })) as boolean;
    },
    async hasRoom() {
      return (await call({ id: nextId++, kind: "room" })) as boolean;
    },
    async close() {
      if (failure) return;
      // Requests are answered in order, so once "close" is answered every earlier write has committed
      // and the connection is closed cleanly (no transaction left holding the write lock).
      const closing = call({ id: nextId++, kind: "close" });
      failure = new Error("the database is closed");
      await closing.catch(() => {});
      await worker.terminate();
    },
  };
}

/**
 * Applies the pending ones of `all` on a dedicated connection. Foreign keys are OFF while migrating
 * (outside the transaction, where the pragma takes effect): Prisma's SQLite migrations redefine a table
 * by copy, DROP and rename, and with foreign keys on, dropping "Run" would cascade-delete every metric.
 * `foreign_key_check` then verifies the result before COMMIT.
 */
export function migrateSqlite(path: string, all: readonly Migration[]): string[] {
  inspectExisting(path, all);
  const db = connect(path);
  try {
    db.pragma("foreign_keys = OFF");
    // BEGIN IMMEDIATE serializes two processes starting at once: the second sees the first's records.
    return db
      .transaction(() => {
        db.exec(MIGRATIONS_TABLE.sqlite);
        const rows = db
          .prepare(
            `SELECT "migration_name" AS name, "checksum" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL`,
          )
          .all() as { name: string; checksum: string }[];
        const applied = new Map(rows.map((r) => [r.name, r.checksum]));
        const record = db.prepare(
          `INSERT INTO "_prisma_migrations" ("id", "checksum", "finished_at", "migration_name", "logs", "started_at", "applied_steps_count")
           VALUES (?, ?, current_timestamp, ?, NULL, current_timestamp, 1)`,
        );
        const pending = pendingMigrations(all, applied, `the database file ${path}`);
        for (const m of pending) {
          db.exec(m.sql);
          record.run(crypto.randomUUID(), m.checksum, m.name);
        }
        const broken = db.pragma("foreign_key_check") as { table: string; parent: string }[];
        if (broken.length) {
          const first = broken[0];
          throw new Error(
            `migrations ${pending.map((m) => m.name).join(", ")} leave ${broken.length} row(s) violating foreign keys ` +
              `(first: ${first.table} → ${first.parent}); nothing was applied`,
          );
        }
        return pending.map((m) => m.name);
      })
      .immediate();
  } finally {
    db.close();
  }
}

/**
 * Looks at an existing file read-only before anything writes to it (even switching to WAL rewrites the
 * header): refuses a file that is not SQLite, is damaged, or holds another application's schema.
 */
function inspectExisting(path: string, all: readonly Migration[]): void {
  if (!existsSync(path) || statSync(path).size === 0) return;
  const where = `the database file ${path}`;
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 10_000 });
  } catch (err) {
    throw notSqlite(where, err);
  }
  try {
    let tables: string[];
    try {
      tables = db
        .prepare(`SELECT "name" FROM sqlite_master WHERE "type" = 'table' AND "name" NOT LIKE 'sqlite_%'`)
        .pluck()
        .all() as string[];
    } catch (err) {
      throw notSqlite(where, err);
    }
    const logged = tables.includes("_prisma_migrations")
      ? (db.prepare(`SELECT "migration_name" FROM "_prisma_migrations"`).pluck().all() as string[])
      : [];
    checkDatabaseIsOurs(where, tables.filter((t) => t !== "_prisma_migrations").sort(), logged, all);
  } finally {
    db.close();
  }
}

function notSqlite(where: string, err: unknown): Error {
  const code = (err as { code?: string }).code;
  if (code !== "SQLITE_NOTADB" && code !== "SQLITE_CORRUPT") return err as Error;
  return new Error(
    `${where} is not a SQLite database or is damaged (${(err as Error).message}). It was left unchanged: ` +
      "restore it from a backup, or point DATABASE_URL at a new file (it is created)",
  );
}
