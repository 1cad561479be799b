// SQLite store: better-sqlite3 directly for migrations, the batch write path and the history reads.
//
// Why not Prisma here: createMany manages ≈ 2,000 rows/s and a raw INSERT through the adapter ≈ 16,000;
// better-sqlite3's prepared statements do ≫ 100,000 rows/s. better-sqlite3 is synchronous, so a chunk's
// transaction blocks the event loop while it runs: for the runner's chunks (K ≤ ~1,000 rows) that is a
// few milliseconds, and it must stay synchronous: a transaction held open across an `await` would make
// Prisma's own (also synchronous) connection wait on the lock while blocking the loop that would finish
// it. WAL lets Prisma's connection read while we write; synchronous=NORMAL keeps every committed chunk
// across a process crash (a power cut may lose the last few commits, which we accept for speed).
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { committedMigrations, MIGRATIONS_TABLE, pendingMigrations } from "./migrate.ts";
import { rollupDeltas } from "./rollup.ts";
import { validateRows } from "./sql.ts";
import { type BatchRow, METRICS, type Store } from "./types.ts";

const cap = (m: string) => m[0].toUpperCase() + m.slice(1);

export function sqlitePath(url: string): string {
  const path = url.replace(/^file:/, "").replace(/\?.*$/, "");
  if (!path) throw new Error(`DATABASE_URL "${url}" names no file; use file:./data/gradstream.db or similar`);
  return path;
}

export function openSqliteStore(url: string): Store {
  const path = sqlitePath(url);
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: 10_000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  migrate(db);

  const insertRow = db.prepare(
    `INSERT OR IGNORE INTO "BatchMetric" ("runId", "step", "epoch", "batch", "loss", "accuracy", "lr", "gradNorm",
     "confidence", "trueClassProb", "samples", "timeMs") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const cols = METRICS.flatMap((m) => [`"min${cap(m)}"`, `"max${cap(m)}"`, `"sum${cap(m)}"`]);
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
         return `"min${c}" = min("min${c}", excluded."min${c}"), "max${c}" = max("max${c}", excluded."max${c}"), "sum${c}" = "sum${c}" + excluded."sum${c}"`;
       }).join(",\n       ")}`,
  );
  const bumpRun = db.prepare(
    `UPDATE "Run" SET "stepsCompleted" = "stepsCompleted" + ?, "lastStep" = max(coalesce("lastStep", -1), ?) WHERE "id" = ?`,
  );
  const runExists = db.prepare(`SELECT 1 FROM "Run" WHERE "id" = ?`).pluck();

  const writeTx = db.transaction((runId: number, rows: readonly BatchRow[]): number => {
    if (runExists.get(runId) === undefined) throw new Error(`unknown run id ${runId}`);
    const inserted: BatchRow[] = [];
    for (const r of rows) {
      const info = insertRow.run(
        runId,
        r.step,
        r.epoch,
        r.batch,
        r.loss,
        r.accuracy,
        r.lr,
        r.gradNorm,
        r.confidence,
        r.trueClassProb,
        r.samples,
        r.timeMs,
      );
      if (info.changes === 1) inserted.push(r);
    }
    if (inserted.length === 0) return 0;
    for (const d of rollupDeltas(inserted)) {
      const stats: number[] = [];
      for (let i = 0; i < METRICS.length; i++) stats.push(d.min[i], d.max[i], d.sum[i]);
      upsertRollup.run(runId, d.level, d.bucket, d.count, d.firstStep, d.lastStep, ...stats);
    }
    let maxStep = -1;
    for (const r of inserted) if (r.step > maxStep) maxStep = r.step;
    bumpRun.run(inserted.length, maxStep, runId);
    return inserted.length;
  });

  return {
    dialect: "sqlite",
    async writeChunk(runId, rows) {
      validateRows(runId, rows);
      // `.immediate` takes the write lock up front, so a concurrent writer waits instead of failing.
      return writeTx.immediate(runId, rows);
    },
    async all<T>(sql: string) {
      return db.prepare(sql).all() as T[];
    },
    async close() {
      db.close();
    },
  };
}

function migrate(db: Database.Database): void {
  const all = committedMigrations("sqlite");
  // BEGIN IMMEDIATE serializes two processes starting at once: the second sees the first's records.
  db.transaction(() => {
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
    for (const m of pendingMigrations(all, applied)) {
      db.exec(m.sql);
      record.run(crypto.randomUUID(), m.checksum, m.name);
    }
  }).immediate();
}
