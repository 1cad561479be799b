// The only reader of process.env: every setting, its default, and its validation live here.
import { delimiter, resolve } from "node:path";
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
  /**
   * CORS_ORIGINS (none: same-origin only): other origins whose web pages may call the API, or "*" (only
   * accepted when tokens are required, since then a page still needs a token).
   */
  corsOrigins: string[] | "*";
  /** ALLOWED_HOSTS (none): extra names the Host header may carry (`name` any port, or `name:port`). */
  allowedHosts: string[];
  /** PUBLIC_URL (unset): the URL clients reach the server on (e.g. behind a proxy); its host is allowed. */
  publicUrl: string | null;
  /**
   * DATA_DIR (./data/datasets; several joined by ":"): the only directories whose files API callers
   * may name in dataset specs; uploadDataset stores into the first. Absolute paths.
   */
  dataDirs: string[];
  /** MAX_UPLOAD_BYTES (64 MiB): largest file registerModel and uploadDataset accept. */
  maxUploadBytes: number;
  /** SUBSCRIBER_MAX_QUEUED (256): chunks a subscriber may fall behind before it is told to resubscribe. */
  subscriberMaxQueued: number;
  /** MAX_CONCURRENT_RUNS (1): runs training at once; the rest wait QUEUED. */
  maxConcurrentRuns: number;
  /**
   * THREADS_PER_RUN (0 = automatic): onnxruntime intra-op threads of each run; automatic is the run's
   * share of the cores, max(1, ⌊cores / MAX_CONCURRENT_RUNS⌋).
   */
  threadsPerRun: number | null;
  /** RESUME_ON_START (true): resume runs a crash or a shutdown interrupted, from their latest checkpoint. */
  resumeOnStart: boolean;
  /** MAX_TRAINER_CRASHES (3): crashes in a row without progress after which a run is failed, not resumed. */
  maxTrainerCrashes: number;
  /** SHUTDOWN_TIMEOUT_MS (10000): how long stop() waits for runs to checkpoint before closing anyway. */
  shutdownTimeoutMs: number;
  /**
   * DB_RETRY_DEADLINE_MS (60000): how long a run's writes wait and retry (with backoff) while PostgreSQL is
   * unreachable (a restart, a failover) before the run fails with the reason; 0 fails at once.
   */
  dbRetryDeadlineMs: number;
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
  /**
   * TRAINER_ISOLATION (process): `process` trains each run in its own child process, so a native crash
   * fails that run and the server goes on; `thread` trains in a worker thread of the server's process.
   */
  trainerIsolation: "process" | "thread";
  /**
   * GRADSTREAM_AUTH (open-localhost): "required" demands an API token on every request; "open-localhost"
   * lets token-less clients in only while HOST is localhost, 127.0.0.1 or ::1 (any other HOST still
   * requires tokens). See src/server/auth.ts.
   */
  auth: AuthMode;
  /** Request-shape and resource limits (src/server/limits.ts). */
  limits: Limits;
  /** Alert webhooks (src/runs/alerts.ts). */
  alerts: AlertConfig;
}

export interface AlertConfig {
  /** ALERT_WEBHOOK_URLS (none): comma-separated http(s) URLs that get every run's alerts. */
  urls: string[];
  /** ALERT_SECRET (unset): HMAC-SHA256 key of the X-Gradstream-Signature header; unset: unsigned. */
  secret: string | null;
  /** ALERT_ALLOWED_HOSTS (none): internal names, IPs or CIDR ranges a run's own webhook URLs may reach. */
  allowedHosts: string[];
  /** ALERT_MAX_ATTEMPTS (5), ALERT_BACKOFF_MS (1000, doubling), ALERT_TIMEOUT_MS (5000) per delivery. */
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
}

export type AuthMode = "required" | "open-localhost";

export interface Limits {
  /** MAX_QUERY_DEPTH (12): deepest field nesting an operation may select. */
  maxDepth: number;
  /**
   * MAX_QUERY_COST (5000000): GraphQL Armor's cost: objects 2, scalars 1, children × 1.5 per level,
   * a selection × its literal `first`. A full 10,000-row batchMetrics page of a run costs ≈ 1.3M.
   */
  maxCost: number;
  /** MAX_QUERY_TOKENS (3000): lexical tokens in one document (checked while parsing). */
  maxTokens: number;
  /** MAX_QUERY_ALIASES (30): aliases in one operation. */
  maxAliases: number;
  /** MAX_REQUEST_BYTES (1 MiB): largest non-multipart request body. */
  maxRequestBytes: number;
  /** MAX_PAGE_SIZE (10000): largest `first` of a batchMetrics page (runs pages stay ≤ 100). */
  maxPageSize: number;
  /** MAX_POINTS (10000): largest `maxPoints` of history, fluctuation and compareRuns. */
  maxPoints: number;
  /** MAX_MODEL_PARAMETERS (50000000): trainable parameters an uploaded model may have. */
  maxModelParameters: number;
  /**
   * MAX_MODEL_NODES (5000): graph nodes an uploaded model may have. Compiling runs on the event loop at
   * ≈170 µs a node (50,000 nodes, 1.5 MB: 8.5 s), so the upload size alone does not bound it.
   */
  maxModelNodes: number;
  /** MAX_BATCH_ELEMENTS (16777216): batchSize × input elements per sample for startRun (memory). */
  maxBatchElements: number;
  /** RUN_RATE_LIMIT (30): startRun/startExperiment/createRun calls per token (or per client address when
   * open) within RUN_RATE_WINDOW_MS (60000). */
  runRateLimit: number;
  runRateWindowMs: number;
  /** MAX_SUBSCRIPTIONS_PER_CONNECTION (50): concurrent operations on one graphql-ws socket. */
  maxSubscriptionsPerConnection: number;
  /** MAX_LOG_ROWS (10000): rows one logMetrics call may carry. */
  maxLogRows: number;
  /** MAX_CUSTOM_METRICS (100): distinct custom metric names per run (and per history request). */
  maxCustomMetrics: number;
  /** MAX_METRIC_NAME_LENGTH (64): longest custom metric name (characters: letters, digits, _ . / -). */
  maxMetricNameLength: number;
  /** EXTERNAL_IDLE_MS (300000): an EXTERNAL run that logs nothing for this long becomes INTERRUPTED. */
  externalIdleMs: number;
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

function listOf(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1", "[::1]"];

function origins(env: NodeJS.ProcessEnv, tokensRequired: boolean): string[] | "*" {
  const raw = (env.CORS_ORIGINS ?? "").trim();
  if (raw === "*") {
    // Without tokens, "*" would let every web page the user visits drive the server.
    if (!tokensRequired) {
      throw new Error(
        'CORS_ORIGINS="*" is accepted only when API tokens are required (GRADSTREAM_AUTH=required or a non-loopback HOST); list the origins instead, like CORS_ORIGINS=http://localhost:3000',
      );
    }
    return "*";
  }
  const list = listOf(raw);
  for (const o of list) {
    if (!/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new Error(
        `CORS_ORIGINS must be comma-separated origins like http://localhost:3000 (scheme://host[:port], no path), got "${o}"`,
      );
    }
  }
  return list.map((o) => o.toLowerCase());
}

function allowedHostsFrom(env: NodeJS.ProcessEnv): string[] {
  const list = listOf(env.ALLOWED_HOSTS).map((h) => h.toLowerCase());
  for (const h of list) {
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(h)) {
      throw new Error(
        `ALLOWED_HOSTS must be comma-separated host names, optionally with a port (gradstream.example.com, 10.0.0.5:4000), got "${h}"`,
      );
    }
  }
  return list;
}

function publicUrlFrom(env: NodeJS.ProcessEnv): string | null {
  const raw = env.PUBLIC_URL;
  if (raw === undefined || raw === "") return null;
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    throw new Error(`PUBLIC_URL must be an http(s) URL like https://gradstream.example.com, got "${raw}"`);
  }
  return url.href.replace(/\/+$/, "");
}

function dataDirsFrom(env: NodeJS.ProcessEnv): string[] {
  const raw = env.DATA_DIR;
  const list = (raw === undefined || raw === "" ? "./data/datasets" : raw).split(delimiter).filter(Boolean);
  if (list.length === 0) throw new Error(`DATA_DIR must name at least one directory, got "${raw}"`);
  return list.map((d) => resolve(d));
}

function authMode(env: NodeJS.ProcessEnv): AuthMode {
  const raw = env.GRADSTREAM_AUTH;
  if (raw === undefined || raw === "") return "open-localhost";
  if (raw === "required" || raw === "open-localhost") return raw;
  throw new Error(`GRADSTREAM_AUTH must be "required" or "open-localhost", got "${raw}"`);
}

function limitsFrom(env: NodeJS.ProcessEnv): Limits {
  const big = 2 ** 31 - 1;
  return {
    maxDepth: intIn(env, "MAX_QUERY_DEPTH", 12, 1, 1000),
    maxCost: intIn(env, "MAX_QUERY_COST", 5_000_000, 1, big),
    maxTokens: intIn(env, "MAX_QUERY_TOKENS", 3_000, 1, big),
    maxAliases: intIn(env, "MAX_QUERY_ALIASES", 30, 0, 100_000),
    maxRequestBytes: intIn(env, "MAX_REQUEST_BYTES", 1024 * 1024, 1024, big),
    maxPageSize: intIn(env, "MAX_PAGE_SIZE", 10_000, 1, 1_000_000),
    maxPoints: intIn(env, "MAX_POINTS", 10_000, 1, 1_000_000),
    maxModelParameters: intIn(env, "MAX_MODEL_PARAMETERS", 50_000_000, 1, big),
    maxModelNodes: intIn(env, "MAX_MODEL_NODES", 5_000, 1, 10_000_000),
    maxBatchElements: intIn(env, "MAX_BATCH_ELEMENTS", 16 * 1024 * 1024, 1, big),
    runRateLimit: intIn(env, "RUN_RATE_LIMIT", 30, 1, 1_000_000),
    runRateWindowMs: intIn(env, "RUN_RATE_WINDOW_MS", 60_000, 1, 86_400_000),
    maxSubscriptionsPerConnection: intIn(env, "MAX_SUBSCRIPTIONS_PER_CONNECTION", 50, 1, 100_000),
    maxLogRows: intIn(env, "MAX_LOG_ROWS", 10_000, 1, 1_000_000),
    maxCustomMetrics: intIn(env, "MAX_CUSTOM_METRICS", 100, 0, 100_000),
    maxMetricNameLength: intIn(env, "MAX_METRIC_NAME_LENGTH", 64, 1, 1_000),
    externalIdleMs: intIn(env, "EXTERNAL_IDLE_MS", 300_000, 100, 2 ** 31 - 1),
  };
}

function roleFrom(env: NodeJS.ProcessEnv): Config["role"] {
  const raw = env.GRADSTREAM_ROLE;
  if (raw === undefined || raw === "") return "all";
  if (raw === "all" || raw === "api" || raw === "worker") return raw;
  throw new Error(`GRADSTREAM_ROLE must be all, api or worker, got "${raw}"`);
}

function isolationFrom(env: NodeJS.ProcessEnv): Config["trainerIsolation"] {
  const raw = env.TRAINER_ISOLATION;
  if (raw === undefined || raw === "") return "process";
  if (raw === "process" || raw === "thread") return raw;
  throw new Error(`TRAINER_ISOLATION must be process or thread, got "${raw}"`);
}

function redisFrom(env: NodeJS.ProcessEnv): string | null {
  const raw = env.REDIS_URL;
  if (raw === undefined || raw === "") return null;
  if (!/^rediss?:\/\/\S+$/.test(raw))
    throw new Error(`REDIS_URL must look like redis://host:6379, got "${raw}"`);
  return raw;
}

function alertsFrom(env: NodeJS.ProcessEnv): AlertConfig {
  const urls = listOf(env.ALERT_WEBHOOK_URLS);
  for (const u of urls)
    if (!/^https?:\/\/[^/]/i.test(u) || !URL.canParse(u))
      throw new Error(`ALERT_WEBHOOK_URLS must be comma-separated http:// or https:// URLs, got "${u}"`);
  return {
    urls,
    secret: env.ALERT_SECRET || null,
    allowedHosts: listOf(env.ALERT_ALLOWED_HOSTS),
    maxAttempts: intIn(env, "ALERT_MAX_ATTEMPTS", 5, 1, 20),
    backoffMs: intIn(env, "ALERT_BACKOFF_MS", 1_000, 0, 3_600_000),
    timeoutMs: intIn(env, "ALERT_TIMEOUT_MS", 5_000, 1, 600_000),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const environment =
    env.NODE_ENV === "production" ? "production" : env.NODE_ENV === "test" ? "test" : "development";
  const host = env.HOST || "localhost";
  const auth = authMode(env);
  const tokensRequired = auth === "required" || !LOOPBACK_HOSTS.includes(host.toLowerCase());
  return {
    port: intIn(env, "PORT", 4000, 0, 65535),
    host,
    databaseUrl: env.DATABASE_URL || "file:./data/gradstream.db",
    environment,
    graphiql: boolFrom(env, "GRAPHIQL", environment === "development"),
    corsOrigins: origins(env, tokensRequired),
    allowedHosts: allowedHostsFrom(env),
    publicUrl: publicUrlFrom(env),
    dataDirs: dataDirsFrom(env),
    maxUploadBytes: intIn(env, "MAX_UPLOAD_BYTES", 64 * 1024 * 1024, 1, 2 ** 31 - 1),
    subscriberMaxQueued: intIn(env, "SUBSCRIBER_MAX_QUEUED", 256, 1, 1_000_000),
    maxConcurrentRuns: intIn(env, "MAX_CONCURRENT_RUNS", 1, 1, 64),
    threadsPerRun: intIn(env, "THREADS_PER_RUN", 0, 0, 256) || null,
    resumeOnStart: boolFrom(env, "RESUME_ON_START", true),
    maxTrainerCrashes: intIn(env, "MAX_TRAINER_CRASHES", 3, 1, 1000),
    shutdownTimeoutMs: intIn(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    dbRetryDeadlineMs: intIn(env, "DB_RETRY_DEADLINE_MS", 60_000, 0, 86_400_000),
    wsInitTimeoutMs: intIn(env, "WS_INIT_TIMEOUT_MS", 3_000, 1, 600_000),
    role: roleFrom(env),
    redisUrl: redisFrom(env),
    workerId: env.WORKER_ID || null,
    leaseMs: intIn(env, "LEASE_MS", 5_000, 100, 3_600_000),
    queuePollMs: intIn(env, "QUEUE_POLL_MS", 250, 10, 60_000),
    checkpointEvery: intIn(env, "CHECKPOINT_EVERY", 500, 1, 1_000_000_000),
    trainerIsolation: isolationFrom(env),
    auth,
    limits: limitsFrom(env),
    alerts: alertsFrom(env),
  };
}
