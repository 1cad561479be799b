// PostgreSQL store: one pg.Pool shared with Prisma's adapter; the write path and the history reads use
// it directly. A chunk is ONE statement (so one round trip, atomic on its own): the rows go in as 12
// typed arrays through `unnest` (createMany manages ≈ 2,000 rows/s, a multi-row INSERT through Prisma
// ≈ 10,000); `ON CONFLICT DO NOTHING RETURNING` yields only the new steps, and the rollups and the run's
// progress are updated from exactly those rows in data-modifying CTEs, so a replayed chunk changes
// nothing. pg is asynchronous: the event loop is free while the server works.
import pg from "pg";
import { checkDatabaseIsOurs, committedMigrations, MIGRATIONS_TABLE, pendingMigrations } from "./migrate.ts";
import { LEVELS } from "./rollup.ts";
import { int, validateRows } from "./sql.ts";
import { type BatchRow, type CustomValue, METRICS, ROW_FIELDS, type Store } from "./types.ts";

const cap = (m: string) => m[0].toUpperCase() + m.slice(1);
const PG_TYPES: Record<string, string> = { step: "int4", epoch: "int4", batch: "int4", samples: "int4" };

const rollupCols = METRICS.flatMap((m) => [
  `"n${cap(m)}"`,
  `"min${cap(m)}"`,
  `"max${cap(m)}"`,
  `"sum${cap(m)}"`,
]);
const WRITE_SQL = `
WITH ins AS (
  INSERT INTO "BatchMetric" ("runId", ${ROW_FIELDS.map((f) => `"${f}"`).join(", ")})
  SELECT $1::int4, * FROM unnest(${ROW_FIELDS.map((f, i) => `$${i + 2}::${PG_TYPES[f] ?? "float8"}[]`).join(", ")})
  ON CONFLICT ("runId", "step") DO NOTHING
  RETURNING *
), roll AS (
  INSERT INTO "MetricRollup" ("runId", "level", "bucket", "count", "firstStep", "lastStep", ${rollupCols.join(", ")})
  SELECT $1::int4, l.level, ins."step" / l.level, COUNT(*), MIN(ins."step"), MAX(ins."step"),
    ${METRICS.map((m) => `COUNT(ins."${m}"), MIN(ins."${m}"), MAX(ins."${m}"), SUM(ins."${m}")`).join(", ")}
  FROM ins CROSS JOIN (VALUES ${LEVELS.map((l) => `(${l})`).join(", ")}) AS l(level)
  GROUP BY l.level, ins."step" / l.level
  -- A fixed order takes the rollup rows' locks in the same order in every transaction (no deadlock).
  ORDER BY l.level, ins."step" / l.level
  ON CONFLICT ("runId", "level", "bucket") DO UPDATE SET
    "count" = "MetricRollup"."count" + excluded."count",
    "firstStep" = LEAST("MetricRollup"."firstStep", excluded."firstStep"),
    "lastStep" = GREATEST("MetricRollup"."lastStep", excluded."lastStep"),
    ${METRICS.map((m) => {
      const c = cap(m);
      // LEAST/GREATEST skip NULLs (a metric no row carried yet); a sum stays NULL only while both are.
      return (
        `"n${c}" = "MetricRollup"."n${c}" + excluded."n${c}", ` +
        `"min${c}" = LEAST("MetricRollup"."min${c}", excluded."min${c}"), "max${c}" = GREATEST("MetricRollup"."max${c}", excluded."max${c}"), ` +
        `"sum${c}" = COALESCE("MetricRollup"."sum${c}" + excluded."sum${c}", "MetricRollup"."sum${c}", excluded."sum${c}")`
      );
    }).join(",\n    ")}
), bump AS (
  UPDATE "Run" SET "stepsCompleted" = "stepsCompleted" + (SELECT COUNT(*) FROM ins),
    "lastStep" = CASE WHEN EXISTS (SELECT 1 FROM ins)
      THEN GREATEST(COALESCE("lastStep", -1), (SELECT MAX("step") FROM ins)) ELSE "lastStep" END,
    "crashes" = CASE WHEN EXISTS (SELECT 1 FROM ins) THEN 0 ELSE "crashes" END,
    "lastLoss" = COALESCE((SELECT "loss" FROM ins WHERE "loss" IS NOT NULL AND "step" >= COALESCE("Run"."lastStep", -1)
      ORDER BY "step" DESC LIMIT 1), "lastLoss"),
    "heartbeatAt" = (now() AT TIME ZONE 'UTC')
  WHERE "id" = $1::int4
)
SELECT CAST(COUNT(*) AS int4) AS n FROM ins`;

// Custom metric values: the same shape for CustomMetric/CustomRollup, keyed by name as well. Sent in
// the chunk's transaction before WRITE_SQL (only when the chunk has any).
const CUSTOM_SQL = `
WITH ins AS (
  INSERT INTO "CustomMetric" ("runId", "step", "name", "value")
  SELECT $1::int4, * FROM unnest($2::int4[], $3::text[], $4::float8[])
  ON CONFLICT ("runId", "step", "name") DO NOTHING
  RETURNING *
)
INSERT INTO "CustomRollup" ("runId", "name", "level", "bucket", "count", "firstStep", "lastStep", "min", "max", "sum")
SELECT $1::int4, ins."name", l.level, ins."step" / l.level, COUNT(*), MIN(ins."step"), MAX(ins."step"),
  MIN(ins."value"), MAX(ins."value"), SUM(ins."value")
FROM ins CROSS JOIN (VALUES ${LEVELS.map((l) => `(${l})`).join(", ")}) AS l(level)
GROUP BY ins."name", l.level, ins."step" / l.level
ORDER BY ins."name", l.level, ins."step" / l.level
ON CONFLICT ("runId", "name", "level", "bucket") DO UPDATE SET
  "count" = "CustomRollup"."count" + excluded."count",
  "firstStep" = LEAST("CustomRollup"."firstStep", excluded."firstStep"),
  "lastStep" = GREATEST("CustomRollup"."lastStep", excluded."lastStep"),
  "min" = LEAST("CustomRollup"."min", excluded."min"),
  "max" = GREATEST("CustomRollup"."max", excluded."max"),
  "sum" = "CustomRollup"."sum" + excluded."sum"`;

/**
 * pg-pool listens for errors only on idle clients. A client that is checked out (a transaction between
 * two statements, or Prisma's adapter between queries) and whose connection the server ends (a fast
 * shutdown, a failover) emits 'error' with no listener, which Node turns into an uncaught exception that
 * takes the process down. Its statements still fail with the cause, and the pool drops the dead client
 * when it is released, so the event itself needs no handling beyond being heard.
 */
export function guardCheckedOutClients(pool: pg.Pool): void {
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
}

export async function openPostgresStore(url: string): Promise<{ store: Store; pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle pooled connection that the server ends (a restart, a failover, an administrator's
  // pg_terminate_backend) is reported as a pool 'error' event; unhandled, it would crash the process.
  // The pool drops that client and opens a new one on next use, so a warning is all it needs.
  pool.on("error", (err) => {
    console.warn(
      `gradstream: an idle PostgreSQL connection was closed by the server (${err.message}); reconnecting on next use`,
    );
  });
  guardCheckedOutClients(pool);
  let applied: string[];
  try {
    applied = await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  // pg's Pool.end() abandons queries still waiting for a connection (their promises never settle), so
  // the store tracks what is in flight and close() lets it finish first.
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  const track = <T>(work: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new Error("the database is closed"));
    const p = work();
    inFlight.add(p);
    const done = () => inFlight.delete(p);
    p.then(done, done);
    return p;
  };
  const store: Store = {
    dialect: "postgresql",
    applied,
    writeChunk: (runId, rows, custom = []) => track(() => writeChunk(runId, rows, custom)),
    all: <T>(sql: string) => track(async () => (await pool.query(sql)).rows as T[]),
    deleteRun: (runId) =>
      track(async () => {
        // The foreign keys cascade to metrics, rollups, epochs and checkpoints in the same statement.
        const r = await pool.query(`DELETE FROM "Run" WHERE "id" = $1`, [runId]);
        return r.rowCount === 1;
      }),
    saveCheckpoint: (runId, step, epoch, state) =>
      track(async () => {
        // pg sends a Buffer parameter as bytea in binary: no text encoding of the state on this thread.
        const r = await pool.query(
          `INSERT INTO "Checkpoint" ("runId", "step", "epoch", "state")
           SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM "Run" WHERE "id" = $1)
           ON CONFLICT ("runId", "step") DO UPDATE SET "epoch" = excluded."epoch", "state" = excluded."state",
             "createdAt" = (now() AT TIME ZONE 'UTC')`,
          [runId, step, epoch, Buffer.from(state.buffer, state.byteOffset, state.byteLength)],
        );
        if (r.rowCount !== 1) throw new Error(`unknown run id ${runId}`);
      }),
    // The server's free space is not visible to a client: let the next write find out.
    hasRoom: async () => true,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inFlight]);
      await pool.end();
    },
  };
  async function writeChunk(
    runId: number,
    rows: readonly BatchRow[],
    custom: readonly CustomValue[],
  ): Promise<number> {
    validateRows(runId, rows, custom);
    int(runId, "run id");
    if (rows.length === 0) {
      const r = await pool.query(`SELECT 1 FROM "Run" WHERE "id" = $1`, [runId]);
      if (r.rowCount === 0) throw new Error(`unknown run id ${runId}`);
      return 0;
    }
    // Array literals built by hand ('{1,2.5,…}'): cheaper than pg's generic per-element quoting, and
    // exact (JS prints the shortest string that round-trips; validateRows excluded NaN and ±Infinity).
    const params: unknown[] = [
      runId,
      ...ROW_FIELDS.map((f) => `{${rows.map((r: BatchRow) => r[f] ?? "NULL").join(",")}}`),
    ];
    try {
      if (custom.length === 0) {
        const r = await pool.query<{ n: number }>({ text: WRITE_SQL, values: params });
        return r.rows[0].n;
      }
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await client.query({
          text: CUSTOM_SQL,
          values: [runId, custom.map((c) => c.step), custom.map((c) => c.name), custom.map((c) => c.value)],
        });
        const r = await client.query<{ n: number }>({ text: WRITE_SQL, values: params });
        await client.query("COMMIT");
        return r.rows[0].n;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    } catch (err) {
      // 23503: foreign_key_violation, i.e. the run does not exist (or was deleted mid-run).
      if (err instanceof Error && "code" in err && err.code === "23503")
        throw new Error(`unknown run id ${runId}`);
      throw err;
    }
  }
  return { store, pool };
}

async function migrate(pool: pg.Pool): Promise<string[]> {
  const all = committedMigrations("postgresql");
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // DDL is transactional in PostgreSQL: every pending migration and its record commit together, and
    // the advisory lock makes a second process wait, then find them recorded.
    await client.query("SELECT pg_advisory_xact_lock(774411)");
    const where = "the PostgreSQL database";
    const tables = await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`,
    );
    const names = tables.rows.map((t) => t.name);
    const logged = names.includes("_prisma_migrations")
      ? (await client.query<{ name: string }>(`SELECT "migration_name" AS name FROM "_prisma_migrations"`))
          .rows
      : [];
    checkDatabaseIsOurs(
      where,
      names.filter((n) => n !== "_prisma_migrations"),
      logged.map((r) => r.name),
      all,
    );
    await client.query(MIGRATIONS_TABLE.postgresql);
    const r = await client.query<{ name: string; checksum: string }>(
      `SELECT "migration_name" AS name, "checksum" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL`,
    );
    const applied = new Map(r.rows.map((row) => [row.name, row.checksum]));
    const pending = pendingMigrations(all, applied, where);
    for (const m of pending) {
      await client.query(m.sql);
      await client.query(
        `INSERT INTO "_prisma_migrations" ("id", "checksum", "finished_at", "migration_name", "started_at", "applied_steps_count")
         VALUES ($1, $2, now(), $3, now(), 1)`,
        [crypto.randomUUID(), m.checksum, m.name],
      );
    }
    await client.query("COMMIT");
    return pending.map((m) => m.name);
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
