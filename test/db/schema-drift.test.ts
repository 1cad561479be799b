// One source of truth for the models: prisma/schema.prisma. These tests fail when the generated
// PostgreSQL schema, the migrations of either database, or Prisma's own view of the migrations drift
// from it.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/index.ts";
import { getDatamodel } from "../../src/generated/pothos-types.ts";
import { BACKENDS, sqliteBackend } from "./backends.ts";

const migrationNames = (dir: string) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

/** Model name → its column names, from the datamodel the Pothos generator embedded. */
function modelColumns(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, model] of Object.entries(getDatamodel().datamodel.models)) {
    out[name] = model.fields
      .filter((f) => f.kind === "scalar" || f.kind === "enum")
      .map((f) => f.name)
      .sort();
  }
  return out;
}

describe("schema sources", () => {
  it("keeps prisma/postgresql/schema.prisma equal to the one generated from prisma/schema.prisma", () => {
    const r = spawnSync(process.execPath, ["scripts/prisma.mjs", "schema", "--check"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("has a migration for the current models: the newest snapshot equals prisma/schema.prisma", () => {
    const names = migrationNames("prisma/migrations");
    const newest = names[names.length - 1];
    expect(readFileSync(`prisma/migrations/${newest}/snapshot.prisma`, "utf8")).toBe(
      readFileSync("prisma/schema.prisma", "utf8"),
    );
  });

  it("has the same migrations, in the same order, for SQLite and PostgreSQL", () => {
    expect(migrationNames("prisma/postgresql/migrations")).toEqual(migrationNames("prisma/migrations"));
  });
});

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`migrated ${backend.name} database`, () => {
    afterAll(() => backend.stop());

    it("has exactly the tables and columns of the Prisma models", async () => {
      const db = await openDatabase(await backend.newUrl());
      try {
        const sql =
          db.dialect === "sqlite"
            ? `SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p
               WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_prisma_migrations'`
            : `SELECT table_name AS t, column_name AS c FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`;
        const rows = await db.rawQuery<{ t: string; c: string }>(sql);
        const actual: Record<string, string[]> = {};
        for (const r of rows) actual[r.t] = [...(actual[r.t] ?? []), r.c];
        for (const cols of Object.values(actual)) cols.sort();
        expect(actual).toEqual(modelColumns());
      } finally {
        await db.close();
      }
    });
  });
}

describe("Prisma CLI compatibility", () => {
  const backend = sqliteBackend();
  afterAll(() => backend.stop());

  it("sees a database migrated at open as up to date (`prisma migrate status`)", async () => {
    const url = await backend.newUrl();
    await (await openDatabase(url)).close();
    const r = spawnSync(process.execPath, ["scripts/prisma.mjs", "migrate", "status"], {
      encoding: "utf8",
      env: { ...process.env, DATABASE_URL: url },
    });
    expect(r.stdout).toContain("Database schema is up to date!");
    expect(r.status).toBe(0);
  });
});
