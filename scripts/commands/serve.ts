// gradstream serve: the GraphQL API on PORT (4000) with training, until SIGINT/SIGTERM; then a graceful
// shutdown (subscriptions completed, running runs checkpointed and left INTERRUPTED, resumable).
// Every setting comes from the environment (src/server/config.ts documents each one and its default).
import { buildApp } from "../../src/server/app.ts";
import { loadConfig } from "../../src/server/config.ts";

const USAGE = `usage: gradstream serve [--no-train]

--no-train (or GRADSTREAM_ROLE=api): serve the API only; \`gradstream worker\` processes train the runs
(needs DATABASE_URL=postgres://… and REDIS_URL). With REDIS_URL set and GRADSTREAM_ROLE=all (default),
this process serves and trains, sharing runs with the other processes of the cluster.

Serves GraphQL at http://HOST:PORT/graphql (HTTP, SSE at /graphql/stream, graphql-ws).
Environment: PORT (4000), HOST (localhost), DATABASE_URL (file:./data/gradstream.db),
GRAPHIQL, CORS_ORIGINS, ALLOWED_HOSTS, PUBLIC_URL, DATA_DIR (./data/datasets), MAX_UPLOAD_BYTES, SUBSCRIBER_MAX_QUEUED, MAX_CONCURRENT_RUNS, THREADS_PER_RUN,
SHUTDOWN_TIMEOUT_MS, WS_INIT_TIMEOUT_MS, NODE_ENV; auth: GRADSTREAM_AUTH (open-localhost |
required; any HOST other than localhost/127.0.0.1/::1 requires tokens: gradstream token create);
limits: MAX_QUERY_DEPTH, MAX_QUERY_COST, MAX_QUERY_TOKENS, MAX_QUERY_ALIASES, MAX_REQUEST_BYTES,
MAX_PAGE_SIZE, MAX_POINTS, MAX_MODEL_PARAMETERS, MAX_MODEL_NODES, MAX_BATCH_ELEMENTS, RUN_RATE_LIMIT,
RUN_RATE_WINDOW_MS, MAX_SUBSCRIPTIONS_PER_CONNECTION.`;

export async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const noTrain = args.includes("--no-train");
  const rest = args.filter((a) => a !== "--no-train");
  if (rest.length > 0) {
    console.error(`gradstream serve: unexpected arguments ${rest.join(" ")}\n\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  if (config.role === "worker") {
    console.error(
      "gradstream serve: GRADSTREAM_ROLE=worker; run `gradstream worker` to train without the API",
    );
    return 2;
  }
  // One process with no Redis keeps the in-memory queue and pub/sub; anything else joins the cluster
  // (src/runs/factory.ts decides).
  const app = buildApp(config, { role: noTrain ? "api" : config.role });
  const { url } = await app.start();
  console.log(`subscriptions: ws://${url.slice("http://".length)} (graphql-ws), ${url}/stream (SSE)`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`${signal}: checkpointing runs and closing subscriptions…`);
      app.stop().then(resolve, (err: unknown) => {
        console.error(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        resolve();
      });
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  return 0;
}
