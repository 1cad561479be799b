// A database file gradstream did not write (or wrote with a newer version) is refused at start with a
// message naming the file and what to do, and the file is left byte for byte as it was.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/index.ts";
import { committedMigrations } from "../../src/db/migrate.ts";

const dir = mkdtempSync(join(tmpdir(), "gradstream-foreign-"));
let n = 0;
const newPath = () => join(dir, `f-${++n}.db`);

/** Opening `path` fails with `message`, and the file's bytes are unchanged. */
async function refusedUnchanged(path: string, message: RegExp): Promise<void> {
  const before = readFileSync(path);
  await expect(openDatabase(`file:${path}`)).rejects.toThrow(message);
  expect(readFileSync(path).equals(before)).toBe(true);
}

describe("a foreign or damaged database file at start", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a file that is not SQLite, naming the file and what to do, and leaves it unchanged", async () => {
    const path = newPath();
    writeFileSync(path, "name,loss\nrun-1,0.5\n".repeat(400));
    await refusedUnchanged(
      path,
      new RegExp(
        `the database file ${path} is not a SQLite database or is damaged .*left unchanged.*DATABASE_URL`,
      ),
    );
  });

  it("refuses a SQLite file holding another application's tables, listing them, and leaves it unchanged", async () => {
    const path = newPath();
    const other = new Database(path);
    other.exec(
      `CREATE TABLE "customers" (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO "customers" VALUES (1, 'a')`,
    );
    other.exec(`CREATE TABLE "orders" (id INTEGER PRIMARY KEY)`);
    other.close();
    await refusedUnchanged(
      path,
      new RegExp(
        `the database file ${path} is not a gradstream database: it holds another application's tables \\(customers, orders\\)`,
      ),
    );
  });

  it("refuses another Prisma application's migrations, naming them, and leaves the file unchanged", async () => {
    const path = newPath();
    const other = new Database(path);
    other.exec(`CREATE TABLE "_prisma_migrations" ("id" TEXT PRIMARY KEY, "checksum" TEXT, "finished_at" DATETIME,
      "migration_name" TEXT, "logs" TEXT, "rolled_back_at" DATETIME, "started_at" DATETIME, "applied_steps_count" INTEGER)`);
    other.exec(
      `INSERT INTO "_prisma_migrations" VALUES ('x', 'c', current_timestamp, '20200101000000_shop', NULL, NULL, current_timestamp, 1)`,
    );
    other.exec(`CREATE TABLE "Product" (id INTEGER PRIMARY KEY)`);
    other.close();
    await refusedUnchanged(path, /another application's migrations \(20200101000000_shop\)/);
  });

  it("refuses a gradstream database migrated by a newer version, naming the unknown migration, and leaves it unchanged", async () => {
    const path = newPath();
    const db = await openDatabase(`file:${path}`);
    await db.rawQuery(
      `INSERT INTO "_prisma_migrations" ("id", "checksum", "finished_at", "migration_name", "started_at", "applied_steps_count")
       VALUES ('n', 'c', current_timestamp, '29990101000000_from_the_future', current_timestamp, 1)`,
    );
    await db.close();
    const newest = committedMigrations("sqlite").at(-1)?.name;
    await refusedUnchanged(
      path,
      new RegExp(
        `the database file ${path} has migration 29990101000000_from_the_future, newer than this gradstream knows \\(newest known: ${newest}\\).*run the gradstream version that wrote it`,
      ),
    );
  });

  it("still opens an empty file and an existing gradstream database", async () => {
    const path = newPath();
    writeFileSync(path, "");
    const first = await openDatabase(`file:${path}`);
    expect(first.appliedMigrations).toEqual(committedMigrations("sqlite").map((m) => m.name));
    await first.close();
    const again = await openDatabase(`file:${path}`);
    expect(again.appliedMigrations).toEqual([]);
    await again.close();
  });
});
