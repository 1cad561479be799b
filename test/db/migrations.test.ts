import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/index.ts";
import { committedMigrations } from "../../src/db/migrate.ts";
import { BACKENDS } from "./backends.ts";

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
