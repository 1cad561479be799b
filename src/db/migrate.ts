// Applies the committed migrations (prisma/migrations for SQLite, prisma/postgresql/migrations for
// PostgreSQL) at start, each once, recorded in Prisma's own `_prisma_migrations` table with Prisma's
// checksum (sha256 of migration.sql), so `prisma migrate status` agrees with what ran. We do not call
// `prisma migrate deploy`: it fails through @prisma/adapter-pg, and the server should not spawn the CLI.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

const DIRS = {
  sqlite: fileURLToPath(new URL("../../prisma/migrations/", import.meta.url)),
  postgresql: fileURLToPath(new URL("../../prisma/postgresql/migrations/", import.meta.url)),
};

export function committedMigrations(dialect: "sqlite" | "postgresql"): Migration[] {
  const dir = DIRS[dialect];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(`${dir}${d.name}/migration.sql`))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(`${dir}${name}/migration.sql`, "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

export const MIGRATIONS_TABLE = {
  sqlite: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "checksum" TEXT NOT NULL,
    "finished_at" DATETIME,
    "migration_name" TEXT NOT NULL,
    "logs" TEXT,
    "rolled_back_at" DATETIME,
    "started_at" DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0
  )`,
  postgresql: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
  )`,
};

/**
 * Refuses a database that gradstream did not write, before anything is created in it: another
 * application's tables, or another Prisma application's migrations. `tables` are the user tables found
 * (without `_prisma_migrations`), `applied` the migration names recorded (empty when there is no
 * `_prisma_migrations` table). Nothing has been written when this throws.
 */
export function checkDatabaseIsOurs(
  where: string,
  tables: readonly string[],
  applied: readonly string[],
  all: readonly Migration[],
): void {
  const known = new Set(all.map((m) => m.name));
  const ours = applied.some((name) => known.has(name));
  if (ours) return;
  if (applied.length > 0 || tables.length > 0) {
    const shown = (applied.length ? applied : tables).slice(0, 5).join(", ");
    throw new Error(
      `${where} is not a gradstream database: it holds another application's ${applied.length ? "migrations" : "tables"} ` +
        `(${shown}${(applied.length || tables.length) > 5 ? ", …" : ""}). It was left unchanged: point DATABASE_URL at a new ` +
        "file (it is created) or at an existing gradstream database",
    );
  }
}

/** The migrations still to run, given the names already recorded as finished; refuses an edited one. */
export function pendingMigrations(
  all: readonly Migration[],
  applied: ReadonlyMap<string, string>,
  where = "the database",
): Migration[] {
  const known = new Set(all.map((m) => m.name));
  const unknown = [...applied.keys()].filter((name) => !known.has(name)).sort();
  if (unknown.length) {
    // Written by a newer gradstream: applying our older view of the schema could corrupt it.
    throw new Error(
      `${where} has migration ${unknown.join(", ")}, newer than this gradstream knows (newest known: ` +
        `${all.at(-1)?.name ?? "none"}). It was left unchanged: run the gradstream version that wrote it, ` +
        "or point DATABASE_URL at another database",
    );
  }
  for (const m of all) {
    const sum = applied.get(m.name);
    if (sum !== undefined && sum !== m.checksum) {
      throw new Error(
        `migration ${m.name} was edited after it was applied (checksum ${sum.slice(0, 12)}… in the database, ` +
          `${m.checksum.slice(0, 12)}… on disk): add a new migration instead`,
      );
    }
  }
  return all.filter((m) => !applied.has(m.name));
}
