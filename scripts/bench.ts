// npm run bench [-- name… --flag…]: runs every benchmark in scripts/bench/<name>.ts in its own process (so one
// benchmark's warm caches and threads cannot flatter the next) and passes their JSON lines through.
// Each benchmark measures its own baseline in the same run and prints ratios against it.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "bench");
// names pick benchmarks; flags (--only=lenet5_epoch, --profile) pass through to each one
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
const all = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();
const chosen = wanted.length ? all.filter((n) => wanted.includes(n)) : all;
const unknown = wanted.filter((n) => !all.includes(n));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; available: ${all.join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of chosen) {
  console.error(`# bench ${name}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(dir, `${name}.ts`), ...flags], {
    stdio: "inherit",
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
