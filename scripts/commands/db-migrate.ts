// gradstream db-migrate (npm run db:migrate): applies the committed migrations to DATABASE_URL (SQLite
// file or PostgreSQL) and reports what ran. The server does the same at start; this is for deploy steps.
import { fileURLToPath } from "node:url";
import { openDatabase } from "../../src/db/index.ts";
import { loadConfig } from "../../src/server/config.ts";

export async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(
      "usage: gradstream db-migrate\n\nApplies pending migrations to DATABASE_URL (default file:./data/gradstream.db).",
    );
    return 0;
  }
  const url = loadConfig().databaseUrl;
  const db = await openDatabase(url);
  try {
    const shown = url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
    if (db.appliedMigrations.length === 0) console.log(`${shown}: up to date`);
    else console.log(`${shown}: applied ${db.appliedMigrations.join(", ")}`);
    return 0;
  } finally {
    await db.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`db-migrate: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
