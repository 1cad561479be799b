// The live-server fixture: the real server in-process on a free port with a temporary SQLite file,
// plus subscription collectors for integration tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient as createWsClient } from "graphql-ws";
import { afterAll, beforeAll } from "vitest";
import WebSocket from "ws";
import { type App, buildApp } from "../../src/server/app.ts";
import { loadConfig } from "../../src/server/config.ts";
import { postGql } from "./gql.ts";

export interface Live {
  app: App;
  /** The server's DATA_DIR (a temporary folder unless `env` names one). */
  dataDir: string;
  url: string;
  wsUrl: string;
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }>;
  close(): Promise<void>;
}

export async function startLive(
  env: Record<string, string> = {},
  log: (line: string) => void = () => {},
): Promise<Live> {
  const dir = mkdtempSync(join(tmpdir(), "gradstream-live-"));
  const config = loadConfig({
    DATABASE_URL: `file:${join(dir, "live.db")}`,
    PORT: "0",
    HOST: "127.0.0.1",
    NODE_ENV: "test",
    DATA_DIR: join(dir, "datasets"),
    ...env,
  });
  const app = buildApp(config, { log });
  const { url } = await app.start();
  return {
    app,
    dataDir: config.dataDirs[0],
    url,
    wsUrl: url.replace(/^http/, "ws"),
    async gql(query, variables) {
      return (await postGql(url, query, variables)).body as never;
    },
    async close() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a run through `startRun` on a built-in model and dataset found by name (their ids looked up
 * over the API, as a client would); answers the run's global id and totalSteps, or throws with the
 * API's errors.
 */
export async function startNamedRun(
  live: Live,
  names: { model: string; dataset: string },
  settings: Record<string, unknown>,
): Promise<{ id: string; totalSteps: number }> {
  const ids = await live.gql<{
    models: { nodes: { id: string; name: string }[] };
    datasets: { nodes: { id: string; name: string }[] };
  }>("{ models { nodes { id name } } datasets { nodes { id name } } }");
  const started = await live.gql<{ startRun: { id?: string; totalSteps?: number; message?: string } }>(
    `mutation($input: StartRunInput!) { startRun(input: $input) { ... on Run { id totalSteps } ... on Error { message } } }`,
    {
      input: {
        model: ids.data?.models.nodes.find((m) => m.name === names.model)?.id,
        dataset: ids.data?.datasets.nodes.find((d) => d.name === names.dataset)?.id,
        ...settings,
      },
    },
  );
  const run = started.data?.startRun;
  if (!run?.id || run.totalSteps === undefined)
    throw new Error(`startRun failed: ${JSON.stringify(started.errors ?? started.data)}`);
  return { id: run.id, totalSteps: run.totalSteps };
}

/** Starts one live server for the file (beforeAll) and closes it after (afterAll); `ready` sees it. */
export function useLiveServer(
  env: Record<string, string> = {},
  ready: (live: Live) => void = () => {},
): void {
  let live: Live | undefined;
  beforeAll(async () => {
    live = await startLive(env);
    ready(live);
  });
  afterAll(() => live?.close());
}

export interface Chunk {
  runId: string;
  lastStep: number;
  final: boolean;
  rows: { step: number; epoch: number; loss: number; accuracy: number }[];
}

export const CHUNKS = `subscription($runId: ID!, $afterStep: Int! = -1) {
  batchMetrics(runId: $runId, afterStep: $afterStep) { runId lastStep final rows { step epoch loss accuracy } } }`;

export function wsClient(wsUrl: string) {
  return createWsClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}

/** Every chunk of a run over graphql-ws until the final one. */
export async function collectWs(wsUrl: string, runId: string, afterStep = -1): Promise<Chunk[]> {
  const client = wsClient(wsUrl);
  const chunks: Chunk[] = [];
  try {
    for await (const r of client.iterate<{ batchMetrics: Chunk }>({
      query: CHUNKS,
      variables: { runId, afterStep },
    })) {
      if (r.errors) throw new Error(r.errors.map((e) => e.message).join("; "));
      if (r.data) chunks.push(r.data.batchMetrics);
    }
  } finally {
    await client.dispose();
  }
  return chunks;
}

export const steps = (chunks: Chunk[]) => chunks.flatMap((c) => c.rows.map((r) => r.step));
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);
