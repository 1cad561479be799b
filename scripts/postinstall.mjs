// Runs after `npm install`: generates the Prisma client offline (see src/db/README in the note of issue 4).
// Kept as a tiny script so the same step works from npm install, npm ci and CI.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

if (existsSync("prisma/schema.prisma")) {
  const r = spawnSync(process.execPath, ["scripts/prisma.mjs", "generate"], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}
