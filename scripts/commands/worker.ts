// gradstream worker: trains runs from the shared PostgreSQL queue without serving the API, until
// SIGINT/SIGTERM; then hands its running runs back to the queue (another worker resumes them from
// their latest checkpoint). Needs DATABASE_URL=postgres://… and REDIS_URL (live batches reach the API
// instances through Redis). MAX_CONCURRENT_RUNS is this worker's capacity.
import { openDatabase } from "../../src/db/index.ts";
import { createRunManagerFromConfig } from "../../src/runs/factory.ts";
import { loadConfig } from "../../src/server/config.ts";

const USAGE = `usage: gradstream worker

Trains QUEUED runs whose execution provider this machine has, at most MAX_CONCURRENT_RUNS at once.
Environment: DATABASE_URL (postgres://…), REDIS_URL (redis://…), MAX_CONCURRENT_RUNS (1), THREADS_PER_RUN, WORKER_ID,
LEASE_MS (5000), QUEUE_POLL_MS (250), CHECKPOINT_EVERY (500).`;

export async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  if (args.length > 0) {
    console.error(`gradstream worker: unexpected arguments ${args.join(" ")}\n\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  if (config.role === "api") {
    console.error("gradstream worker: GRADSTREAM_ROLE=api; run `gradstream serve` to serve the API");
    return 2;
  }
  const db = await openDatabase(config.databaseUrl, { retryDeadlineMs: config.dbRetryDeadlineMs });
  let runs: Awaited<ReturnType<typeof createRunManagerFromConfig>>;
  try {
    runs = await createRunManagerFromConfig(db, config, "worker");
  } catch (err) {
    await db.close();
    console.error(`gradstream worker: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  console.log(`gradstream worker ${runs.queue.name} training up to ${runs.maxConcurrent} run(s) at once`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`${signal}: handing running runs back to the queue…`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await runs.close();
  await db.close();
  return 0;
}
