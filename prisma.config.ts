// Prisma CLI configuration. `engine: "js"` makes the CLI use its WebAssembly schema engine over a
// driver adapter, so `migrate diff`, `migrate status` and `generate` work offline (Prisma 6.19's native
// schema engine would be downloaded at first use). Always run the CLI through `node scripts/prisma.mjs`,
// which also keeps it from fetching a native query engine. The server itself applies migrations with
// src/db/migrate.ts (the CLI's `migrate deploy` fails through @prisma/adapter-pg).
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { defineConfig } from "prisma/config";
import { loadConfig } from "./src/server/config.ts";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  async adapter() {
    const url = loadConfig().databaseUrl;
    if (!url.startsWith("file:")) {
      throw new Error(`the Prisma CLI config drives SQLite only; DATABASE_URL is "${url}"`);
    }
    return new PrismaBetterSQLite3({ url });
  },
});
