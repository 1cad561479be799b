// The benches that compare storage run the same body on a temporary SQLite file, then on a throwaway
// PostgreSQL server (test/helpers/postgres.ts starts one), and clean up both whatever happens.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testPostgres } from "../../test/helpers/postgres.ts";

export type DatabaseName = "sqlite" | "postgresql";

export async function onBothDatabases(
  prefix: string,
  bench: (db: DatabaseName, url: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    await bench("sqlite", `file:${join(dir, "bench.db")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pg = await testPostgres();
  try {
    await bench("postgresql", pg.url);
  } finally {
    await pg.stop();
  }
}
