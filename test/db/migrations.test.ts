import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/index.ts";
import { committedMigrations } from "../../src/db/migrate.ts";
import { migrateSqlite, sqlitePath } from "../../src/db/sqlite.ts";
import { makeRows, makeRun } from "../helpers/fixtures.ts";
import { BACKENDS, sqliteBackend } from "./backends.ts";

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`migrations on ${backend.name}`, () => {
    afterAll(() => backend.stop());

    it("applies each migration once when two connections open an empty database together", async () => {
      const url = await backend.newUrl();
      const [a, b] = await Promise.all([openDatabase(url), openDatabase(url)]);
      try {
        const all = committedMigrations(a.dialect).map((m) => m.name);
        // Exactly one of the two applied them; the other found them recorded.
        expect([...a.appliedMigrations, ...b.appliedMigrations]).toEqual(all);
        const rows = await a.rawQuery<{ name: string }>(
          `SELECT "migration_name" AS name FROM "_prisma_migrations" ORDER BY 1`,
        );
        expect(rows.map((r) => r.name)).toEqual(all);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("refuses to start when an applied migration's file was edited, naming the migration", async () => {
      const url = await backend.newUrl();
      const db = await openDatabase(url);
      const name = db.appliedMigrations[0];
      await db.rawQuery(
        `UPDATE "_prisma_migrations" SET "checksum" = 'abc' WHERE "migration_name" = '${name}'`,
      );
      await db.close();
      await expect(openDatabase(url)).rejects.toThrow(`migration ${name} was edited after it was applied`);
    });
  });
}

describe("database URL", () => {
  it("rejects a URL that is neither file: nor postgres://, saying what is accepted", async () => {
    await expect(openDatabase("mysql://localhost/x")).rejects.toThrow(
      'DATABASE_URL must start with file: (SQLite) or postgres:// (PostgreSQL), got "mysql://localhost/x"',
    );
  });
});

describe("SQLite table redefinitions", () => {
  const backend = sqliteBackend();
  afterAll(() => backend.stop());

  it("keeps child rows when a migration rebuilds a parent table the way Prisma does (copy, drop, rename)", async () => {
    const url = await backend.newUrl();
    const db = await openDatabase(url);
    const run = await makeRun(db);
    await db.writeBatchChunk(run.id, makeRows(0, 120));
    await db.saveCheckpoint(run.id, { step: 119, epoch: 1, state: new Uint8Array([1]) });
    const [ddl] = await db.rawQuery<{ sql: string }>(
      `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'Run'`,
    );
    await db.close();
    // Prisma's RedefineTables pattern, with its PRAGMAs (which are no-ops inside a transaction).
    const sql = [
      "PRAGMA defer_foreign_keys=ON;",
      "PRAGMA foreign_keys=OFF;",
      `${ddl.sql.replace('CREATE TABLE "Run"', 'CREATE TABLE "new_Run"')};`,
      'INSERT INTO "new_Run" SELECT * FROM "Run";',
      'DROP TABLE "Run";',
      'ALTER TABLE "new_Run" RENAME TO "Run";',
      "PRAGMA foreign_keys=ON;",
      "PRAGMA defer_foreign_keys=OFF;",
    ].join("\n");
    const extra = { name: "99999999999999_redefine_run", sql, checksum: "0".repeat(64) };
    expect(migrateSqlite(sqlitePath(url), [...committedMigrations("sqlite"), extra])).toEqual([extra.name]);
    const again = await openDatabase(url);
    try {
      expect((await again.batchMetricsPage(run.id, -1, 1000)).rows.length).toBe(120);
      expect((await again.latestCheckpoint(run.id))?.step).toBe(119);
      expect((await again.getRun(run.id))?.stepsCompleted).toBe(120);
    } finally {
      await again.close();
    }
  });
});
