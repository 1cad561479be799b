// buildApp(config) composes gradstream's server: database (migrations applied by openDatabase), the
// built-in models and named datasets, the run manager, the GraphQL transports and the export route.
// start() listens; stop() shuts down gracefully: subscriptions are completed, in-flight runs are
// checkpointed and left INTERRUPTED (resumable), then the database closes.
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { GraphQLError } from "graphql";
import { maskError, type Plugin } from "graphql-yoga";
import { type Db, databaseUnavailable, openDatabase, StorageError } from "../db/index.ts";
import { NotFoundError, UnsupportedModelError, ValidationError } from "../errors.ts";
import { SubscriberOverflowError } from "../runs/broadcast.ts";
import { ExternalRuns } from "../runs/external.ts";
import { createRunManagerFromConfig } from "../runs/factory.ts";
import { GradstreamRunManager } from "../runs/manager.ts";
import type { RunManager } from "../runs/types.ts";
import { schema } from "../schema/index.ts";
import { type Auth, AuthError, authStartup, createAuth, scopeError, useAuth } from "./auth.ts";
import type { Config } from "./config.ts";
import { createContextFactory } from "./context.ts";
import { createEdges } from "./edges.ts";
import { createTransport, type Transport } from "./http.ts";
import { createRateLimiter, useArmor, useRequestSizeLimit, useRunRateLimit } from "./limits.ts";
import { METRICS_EXPORT_ROUTE, routeRunId, streamMetrics } from "./metrics-export.ts";
import { ingestMetrics } from "./metrics-ingest.ts";
import { registerBuiltins } from "./registry.ts";
import { chunkKey, useSharedSubscriptionExecution } from "./shared-execution.ts";
import { serveStatic } from "./static.ts";

export const MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "models");

export interface RunManagerDeps {
  db: Db;
  config: Config;
}

export interface BuildOptions {
  /** Builds the run lifecycle over the opened database (default: src/runs/factory.ts from the config). */
  createRunManager?: (deps: RunManagerDeps) => RunManager | Promise<RunManager>;
  /** all: serve and train; api: serve only (runs go to workers). Default GRADSTREAM_ROLE. */
  role?: "all" | "api";
  /** Where the built-in models live (models/*.onnx). */
  modelsDir?: string;
  /** Logs start-up and shutdown lines (default: console.log; tests pass a no-op). */
  log?: (line: string) => void;
}

export interface App {
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
  /** Set once start() resolved (for tests and the CLI). */
  readonly db: Db | null;
  readonly runs: RunManager | null;
}

/** Errors whose messages are written for clients (what is wrong, what is accepted) pass unmasked. */
function clientError(
  err: unknown,
): { code: string; extensions: Record<string, unknown>; message?: string } | null {
  if (err instanceof NotFoundError)
    return { code: "NOT_FOUND", extensions: { entity: err.entity, id: err.id } };
  if (err instanceof ValidationError) return { code: "BAD_USER_INPUT", extensions: { field: err.field } };
  if (err instanceof UnsupportedModelError)
    return { code: "UNSUPPORTED_MODEL", extensions: { ops: err.ops } };
  if (err instanceof SubscriberOverflowError) return { code: "SUBSCRIBER_OVERFLOW", extensions: {} };
  // A full or failing database disk: the caller should retry later, not change the request.
  if (err instanceof StorageError) return { code: "STORAGE_UNAVAILABLE", extensions: {} };
  // The database server unreachable (restarting): HTTP 503 for a plain query; retry later.
  // Its message is the reason alone: a Prisma error's own message carries a source code frame.
  const unreachable = databaseUnavailable(err);
  if (unreachable !== null)
    return {
      code: "DATABASE_UNAVAILABLE",
      extensions: { http: { status: 503 } },
      message: `${unreachable}: try again shortly`,
    };
  return null;
}

export function maskClientErrors(error: unknown, message: string, isDev?: boolean): Error {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (original instanceof GraphQLError && original.extensions.code) return original;
  const known = clientError(original);
  if (known && original instanceof Error) {
    return new GraphQLError(known.message ?? original.message, {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: known.code, ...known.extensions },
    });
  }
  return maskError(error, message, isDev);
}

/** Refuses a multipart body over the upload limit before yoga buffers it. */
function uploadLimit(maxBytes: number): Plugin {
  // The multipart envelope (operations, map, boundaries) adds a little to the file itself.
  const slack = 64 * 1024;
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const type = request.headers.get("content-type") ?? "";
      const length = Number(request.headers.get("content-length") ?? "0");
      if (type.startsWith("multipart/form-data") && length > maxBytes + slack) {
        endResponse(
          new fetchAPI.Response(
            JSON.stringify({
              errors: [
                {
                  message: `the upload is ${length} bytes; the limit is ${maxBytes} bytes (MAX_UPLOAD_BYTES)`,
                  extensions: { code: "PAYLOAD_TOO_LARGE", field: "file" },
                },
              ],
            }),
            { status: 413, headers: { "content-type": "application/json" } },
          ),
        );
      }
    },
  };
}

const EXPORT_ROUTE = /^\/exports\/run-(\d{1,15})\.onnx$/;

/** The EXTERNAL-run service over the run manager's buses (so logged rows reach batchMetrics). */
export function externalRunsFor(db: Db, runs: RunManager, config: Config): ExternalRuns {
  return new ExternalRuns({
    db,
    buses: runs instanceof GradstreamRunManager ? runs.buses : null,
    limits: {
      maxLogRows: config.limits.maxLogRows,
      maxCustomMetrics: config.limits.maxCustomMetrics,
      maxMetricNameLength: config.limits.maxMetricNameLength,
      idleMs: config.limits.externalIdleMs,
    },
  });
}

/**
 * The checks every download route shares: a valid token (any scope reads) and GET or HEAD. Answers
 * 401 or 405 itself and resolves false when the request must go no further.
 */
async function readableRoute(auth: Auth, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  try {
    await auth.authenticate(req.headers.authorization);
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    res
      .writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="gradstream"' })
      .end(`${err.message}\n`);
    return false;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" }).end();
    return false;
  }
  return true;
}

export function buildApp(config: Config, options: BuildOptions = {}): App {
  const log = options.log ?? ((line: string) => console.log(line));
  let db: Db | null = null;
  let runs: RunManager | null = null;
  let transport: Transport | null = null;
  let auth: Auth | null = null;
  let external: ExternalRuns | null = null;
  let closeLimiter: () => Promise<void> = async () => {};

  async function serveExport(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? "").split("?")[0];
    const m = EXPORT_ROUTE.exec(path);
    if (!m || !runs || !db || !auth) return false;
    if (!(await readableRoute(auth, req, res))) return true;
    const runId = Number(m[1]);
    const run = await db.getRun(runId);
    if (!run) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`unknown run id ${runId}\n`);
      return true;
    }
    let bytes: Uint8Array;
    try {
      bytes = await runs.exportModel(runId);
    } catch (err) {
      res
        .writeHead(409, { "content-type": "text/plain" })
        .end(`run ${runId} cannot be exported: ${err instanceof Error ? err.message : String(err)}\n`);
      return true;
    }
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(bytes.byteLength),
      "content-disposition": `attachment; filename="run-${runId}.onnx"`,
    });
    res.end(req.method === "HEAD" ? undefined : bytes);
    return true;
  }

  /** GET /runs/{id}/metrics.ndjson|csv (src/server/metrics-export.ts): any valid token (read scope). */
  async function serveMetricsExport(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const m = METRICS_EXPORT_ROUTE.exec((req.url ?? "").split("?")[0]);
    if (!m || !db || !auth) return false;
    // POST …/metrics.ndjson: bulk ingest of an EXTERNAL run's rows (src/server/metrics-ingest.ts).
    if (req.method === "POST" && m[2] === "ndjson" && external) {
      await ingestMetrics(
        { auth, external, maxBytes: config.limits.maxRequestBytes },
        routeRunId(m[1]),
        req,
        res,
      );
      return true;
    }
    if (!(await readableRoute(auth, req, res))) return true;
    await streamMetrics(db, routeRunId(m[1]), m[2] as "ndjson" | "csv", req, res);
    return true;
  }

  return {
    get db() {
      return db;
    },
    get runs() {
      return runs;
    },
    async start() {
      db = await openDatabase(config.databaseUrl, { retryDeadlineMs: config.dbRetryDeadlineMs });
      const registered = await registerBuiltins(db, options.modelsDir ?? MODELS_DIR);
      if (registered.models.length || registered.datasets.length) {
        log(
          `registered models [${registered.models.join(", ")}] and datasets [${registered.datasets.join(", ")}]`,
        );
      }
      runs = options.createRunManager
        ? await options.createRunManager({ db, config })
        : await createRunManagerFromConfig(db, config, options.role ?? config.role);
      const openDb = db;
      const openRuns = runs;
      const openExternal = externalRunsFor(openDb, openRuns, config).start();
      external = openExternal;
      const openAuth = createAuth(openDb, config);
      auth = openAuth;
      for (const line of await authStartup(openDb, config)) log(line);
      // graphql-ws: a bad or missing token closes the socket with 4401 at connection_init, a mutation
      // on a read-token socket closes it with 4403 (the codes graphql-ws reserves for these).
      const wsVerdict = async (params: Record<string, unknown> | undefined, operation?: string) => {
        try {
          const principal = await openAuth.authenticate(params?.authorization);
          const denied = operation ? scopeError(principal, operation as "query") : null;
          return denied ? { code: denied.closeCode, reason: `Forbidden: ${denied.message}` } : null;
        } catch (err) {
          if (err instanceof AuthError)
            return { code: err.closeCode, reason: `Unauthorized: ${err.message}` };
          throw err;
        }
      };
      const limits = config.limits;
      const rateLimiter = await createRateLimiter(
        limits.runRateLimit,
        limits.runRateWindowMs,
        config.redisUrl,
      );
      closeLimiter = () => rateLimiter.close();
      transport = createTransport({
        schema,
        context: createContextFactory({
          db: openDb,
          runs: openRuns,
          external: openExternal,
          config,
          auth: openAuth,
        }),
        plugins: [
          useAuth(openAuth, { graphiql: config.graphiql }),
          useRequestSizeLimit(limits.maxRequestBytes),
          useArmor(limits),
          useRunRateLimit(rateLimiter, limits),
          uploadLimit(config.maxUploadBytes),
          useSharedSubscriptionExecution({ fields: ["batchMetrics"], keyOf: chunkKey }),
        ],
        maskedErrors: { maskError: maskClientErrors },
        edges: createEdges(config, () => {
          const addr = transport?.server.address();
          return typeof addr === "object" && addr ? addr.port : config.port;
        }),
        graphiql: config.graphiql,
        routes: async (req, res) =>
          (await serveExport(req, res)) || (await serveMetricsExport(req, res)) || serveStatic(req, res),
        connectionInitWaitTimeout: config.wsInitTimeoutMs,
        onConnect: (params) => wsVerdict(params),
        onOperation: (operation, params) => wsVerdict(params, operation),
        maxOperationsPerSocket: limits.maxSubscriptionsPerConnection,
      });
      const url = await transport.listen(config.port, config.host);
      log(`gradstream serving ${url}${config.graphiql ? " (GraphiQL on)" : ""}`);
      // Probe the execution providers now (CUDA and WebGPU each in a child process, 0.5–1.2 s in all,
      // once per process) rather than inside the first startRun, which waits for them.
      void runs.providers();
      return { url };
    },
    async stop() {
      // Order: stop accepting and complete subscriptions, checkpoint runs, then close the database.
      const t = transport;
      transport = null;
      auth = null;
      if (t) await t.close();
      external?.close();
      external = null;
      const r = runs;
      runs = null;
      if (r) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            log(`runs did not checkpoint within ${config.shutdownTimeoutMs} ms; closing anyway`);
            resolve();
          }, config.shutdownTimeoutMs);
        });
        await Promise.race([r.close(), timeout]);
        clearTimeout(timer);
      }
      await closeLimiter();
      const d = db;
      db = null;
      if (d) await d.close();
    },
  };
}
