// The two databases every db test runs against: a temp-file SQLite database and a fresh PostgreSQL
// database (see test/helpers/postgres.ts). `newUrl()` gives an empty database each call.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type Db, openDatabase } from "../../src/db/index.ts";
import { type TestPostgresServer, testPostgresServer } from "../helpers/postgres.ts";

export interface Backend {
  name: "SQLite" | "PostgreSQL";
  newUrl(): Promise<string>;
  stop(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), "gradstream-sqlite-"));
  let n = 0;
  return {
    name: "SQLite",
    async newUrl() {
      n++;
      return `file:${join(dir, `test-${n}.db`)}`;
    },
    async stop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(): Backend {
  let server: Promise<TestPostgresServer> | null = null;
  return {
    name: "PostgreSQL",
    async newUrl() {
      server ??= testPostgresServer();
      return (await server).newDatabase();
    },
    async stop() {
      if (server) await (await server).stop();
    },
  };
}

export const BACKENDS = [sqliteBackend, postgresBackend];

/** Opens a fresh database on `backend` for the enclosing describe block and closes it after. */
export function useDatabase(backend: Backend, ready: (db: Db, url: string) => void): void {
  let db: Db | undefined;
  beforeAll(async () => {
    const url = await backend.newUrl();
    db = await openDatabase(url);
    ready(db, url);
  });
  afterAll(async () => {
    await db?.close();
    await backend.stop();
  });
}
