// The one way the server, `gradstream serve` and `gradstream worker` build their run manager from the
// configuration: one process with no Redis keeps the in-memory queue and pub/sub; an API-only process,
// a worker, or any process with REDIS_URL joins the cluster (PostgreSQL queue, Redis fan-out).
import type { Db } from "../db/index.ts";
import type { AlertOptions } from "./alerts.ts";
import { createRunManager, type GradstreamRunManager } from "./manager.ts";
import { PgClusterQueue } from "./queue-cluster.ts";
import { openRedisBuses } from "./redis-pubsub.ts";

/** What the run manager needs from src/server/config.ts (structural, so src/runs stays below it). */
export interface RunManagerConfig {
  databaseUrl: string;
  redisUrl: string | null;
  workerId: string | null;
  leaseMs: number;
  queuePollMs: number;
  maxConcurrentRuns: number;
  /** null: each run's share of the cores (RunManagerOptions.threadsPerRun). */
  threadsPerRun?: number | null;
  subscriberMaxQueued: number;
  checkpointEvery: number;
  trainerIsolation: "process" | "thread";
  resumeOnStart: boolean;
  maxTrainerCrashes: number;
  limits: { maxBatchElements: number };
  /** DATA_DIR roots: API callers' dataset files must lie inside them. */
  dataDirs: readonly string[];
  /** ALERT_* settings (src/runs/alerts.ts). */
  alerts?: Partial<AlertOptions>;
}

/**
 * `role`: all (serve and train), api (serve only) or worker (train only). Refuses a cluster on SQLite
 * or without REDIS_URL, saying what to set.
 */
export async function createRunManagerFromConfig(
  db: Db,
  config: RunManagerConfig,
  role: "all" | "api" | "worker",
): Promise<GradstreamRunManager> {
  const train = role !== "api";
  const common = {
    db,
    maxConcurrent: config.maxConcurrentRuns,
    ...(config.threadsPerRun ? { threadsPerRun: config.threadsPerRun } : {}),
    maxQueued: config.subscriberMaxQueued,
    checkpointEvery: config.checkpointEvery,
    trainerIsolation: config.trainerIsolation,
    limits: { ...config.limits, dataDirs: config.dataDirs },
    alerts: config.alerts,
  };
  if (role === "all" && config.redisUrl === null)
    return createRunManager({
      ...common,
      resumeOnStart: config.resumeOnStart,
      maxTrainerCrashes: config.maxTrainerCrashes,
    });
  if (db.dialect !== "postgresql")
    throw new Error(
      "a cluster (GRADSTREAM_ROLE=api|worker, serve --no-train or REDIS_URL) needs DATABASE_URL=postgres://…: " +
        "workers share runs through the PostgreSQL queue",
    );
  if (!config.redisUrl)
    throw new Error(
      "a cluster needs REDIS_URL=redis://host:port: live batches reach API instances through Redis",
    );
  const buses = await openRedisBuses(config.redisUrl, { maxQueued: config.subscriberMaxQueued, db });
  try {
    const queue = new PgClusterQueue(db, {
      databaseUrl: config.databaseUrl,
      train,
      workerId: config.workerId ?? undefined,
      leaseMs: config.leaseMs,
      pollMs: config.queuePollMs,
      onClose: () => buses.quit(),
    });
    return await createRunManager({ ...common, queue, buses });
  } catch (err) {
    await buses.quit();
    throw err;
  }
}
