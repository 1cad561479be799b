// The only reader of process.env: every setting, its default, and its validation live here.
export interface Config {
  /** PORT (4000). */
  port: number;
  /** HOST (localhost). */
  host: string;
  /** DATABASE_URL (file:./data/gradstream.db); postgres://… for PostgreSQL. */
  databaseUrl: string;
  /** NODE_ENV: "development" unless NODE_ENV=production or test. */
  environment: "development" | "production" | "test";
  /** GRAPHIQL (on in development, off otherwise): serve GraphiQL at GET /graphql from a browser. */
  graphiql: boolean;
  /** CORS_ORIGINS: comma-separated origins allowed to call the API from a browser, or "*" (default "*"). */
  corsOrigins: string[] | "*";
  /** MAX_UPLOAD_BYTES (64 MiB): largest ONNX file registerModel accepts. */
  maxUploadBytes: number;
  /** SUBSCRIBER_MAX_QUEUED (256): chunks a subscriber may fall behind before it is told to resubscribe. */
  subscriberMaxQueued: number;
  /** MAX_CONCURRENT_RUNS (1): runs training at once; the rest wait QUEUED. */
  maxConcurrentRuns: number;
  /** SHUTDOWN_TIMEOUT_MS (10000): how long stop() waits for runs to checkpoint before closing anyway. */
  shutdownTimeoutMs: number;
  /** WS_INIT_TIMEOUT_MS (3000): close a graphql-ws socket that sent no connection_init by then. */
  wsInitTimeoutMs: number;
  /**
   * GRADSTREAM_ROLE (all): `all` serves the API and trains (one process, the default), `api` serves
   * only (runs go to workers through the PostgreSQL queue), `worker` only trains (gradstream worker).
   */
  role: "all" | "api" | "worker";
  /** REDIS_URL (unset): redis://host:port; fans run events out across processes. Needed by api/worker. */
  redisUrl: string | null;
  /** WORKER_ID (host:pid:random): names this process in Run.workerId and logs. */
  workerId: string | null;
  /** LEASE_MS (5000): a RUNNING run whose worker has not heartbeated for this long is resumed elsewhere. */
  leaseMs: number;
  /** QUEUE_POLL_MS (250): heartbeat, cancellation and claim period of the PostgreSQL queue. */
  queuePollMs: number;
  /** CHECKPOINT_EVERY (500): steps between checkpoints (a resumed run repeats at most this many). */
  checkpointEvery: number;
}

function intIn(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${key} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

function boolFrom(env: NodeJS.ProcessEnv, key: string, fallback: boolean): boolean {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`${key} must be true or false, got "${raw}"`);
}

function origins(env: NodeJS.ProcessEnv): string[] | "*" {
  const raw = env.CORS_ORIGINS;
  if (raw === undefined || raw.trim() === "" || raw.trim() === "*") return "*";
  const list = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const o of list) {
    if (!/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new Error(
        `CORS_ORIGINS must be "*" or comma-separated origins like http://localhost:3000, got "${o}"`,
      );
    }
  }
  return list;
}

function roleFrom(env: NodeJS.ProcessEnv): Config["role"] {
  const raw = env.GRADSTREAM_ROLE;
  if (raw === undefined || raw === "") return "all";
  if (raw === "all" || raw === "api" || raw === "worker") return raw;
  throw new Error(`GRADSTREAM_ROLE must be all, api or worker, got "${raw}"`);
}

function redisFrom(env: NodeJS.ProcessEnv): string | null {
  const raw = env.REDIS_URL;
  if (raw === undefined || raw === "") return null;
  if (!/^rediss?:\/\/\S+$/.test(raw))
    throw new Error(`REDIS_URL must look like redis://host:6379, got "${raw}"`);
  return raw;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const environment =
    env.NODE_ENV === "production" ? "production" : env.NODE_ENV === "test" ? "test" : "development";
  return {
    port: intIn(env, "PORT", 4000, 0, 65535),
    host: env.HOST || "localhost",
    databaseUrl: env.DATABASE_URL || "file:./data/gradstream.db",
    environment,
    graphiql: boolFrom(env, "GRAPHIQL", environment === "development"),
    corsOrigins: origins(env),
    maxUploadBytes: intIn(env, "MAX_UPLOAD_BYTES", 64 * 1024 * 1024, 1, 2 ** 31 - 1),
    subscriberMaxQueued: intIn(env, "SUBSCRIBER_MAX_QUEUED", 256, 1, 1_000_000),
    maxConcurrentRuns: intIn(env, "MAX_CONCURRENT_RUNS", 1, 1, 64),
    shutdownTimeoutMs: intIn(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    wsInitTimeoutMs: intIn(env, "WS_INIT_TIMEOUT_MS", 3_000, 1, 600_000),
    role: roleFrom(env),
    redisUrl: redisFrom(env),
    workerId: env.WORKER_ID || null,
    leaseMs: intIn(env, "LEASE_MS", 5_000, 100, 3_600_000),
    queuePollMs: intIn(env, "QUEUE_POLL_MS", 250, 10, 60_000),
    checkpointEvery: intIn(env, "CHECKPOINT_EVERY", 500, 1, 1_000_000_000),
  };
}
