// The two databases every db test runs against: a temp-file SQLite database and a fresh PostgreSQL
// database (see test/helpers/postgres.ts). `newUrl()` gives an empty database each call.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
