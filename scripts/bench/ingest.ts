// npm run bench -- ingest: rows/s of an EXTERNAL run through the API as a trainer sends them (batched
// calls over HTTP to the server on a free port: the logMetrics mutation, and the NDJSON route
// POST /runs/{id}/metrics.ndjson that `gradstream log` and the README's Python snippet use), beside the
// native write path (the trained runs' db.writeBatchChunk, no HTTP or GraphQL) measured in the same run
// on the same server, on SQLite (temp file) and PostgreSQL (a throwaway cluster). `callsInFlight` calls
// are sent at once (a client pipelining its batches). Target: ≥ 50,000 rows/s on SQLite.
// Prints one JSON line per measurement.
import { buildApp } from "../../src/server/app.ts";
import { loadConfig } from "../../src/server/config.ts";
import { makeRows, makeRun } from "../../test/helpers/fixtures.ts";
import { onBothDatabases } from "./databases.ts";

const TOTAL = Number(process.argv[2] ?? 200_000);
const print = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: "ingest", ...o }));

const LOG = `mutation Log($id: ID!, $rows: [MetricRowInput!]!) {
  logMetrics(runId: $id, rows: $rows) { __typename ... on LogResult { stored } ... on Error { message } } }`;

function rowsOf(from: number, n: number, custom: boolean) {
  return Array.from({ length: n }, (_, i) => {
    const step = from + i;
    const row: Record<string, unknown> = {
      step,
      epoch: Math.floor(step / 1000),
      loss: 0.7 + Math.sin(step) / 10,
      accuracy: (step % 10) / 10,
    };
    if (custom) row.custom = { perplexity: 2 + Math.cos(step), "grad_norm/fc1": step / 1e6 };
    return row;
  });
}

async function bench(name: string, databaseUrl: string) {
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: "0", HOST: "127.0.0.1", NODE_ENV: "test" });
  const app = buildApp(config, { log: () => {} });
  const { url } = await app.start();
  const db = app.db;
  if (!db) throw new Error("no database");
  const gql = async (query: string, variables: Record<string, unknown>) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data: Record<string, { id?: string; stored?: number; message?: string }> };
  };
  const base = url.replace(/\/graphql$/, "");
  /** Sends the bodies with up to `inFlight` requests open at once; returns the rows stored. */
  async function send(path: "graphql" | "ndjson", id: string, bodies: string[], inFlight: number) {
    let next = 0;
    let stored = 0;
    const worker = async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const res = await fetch(path === "graphql" ? url : `${base}/runs/${id}/metrics.ndjson`, {
          method: "POST",
          headers: { "content-type": path === "graphql" ? "application/json" : "application/x-ndjson" },
          body,
        });
        const out = (await res.json()) as {
          stored?: number;
          errors?: { message: string }[];
          data?: { logMetrics: { stored?: number; message?: string } };
        };
        const n = path === "graphql" ? out.data?.logMetrics.stored : out.stored;
        if (n === undefined)
          throw new Error(out.errors?.[0]?.message ?? out.data?.logMetrics.message ?? `HTTP ${res.status}`);
        stored += n;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return stored;
  }
  try {
    for (const [path, batch, custom, inFlight] of [
      ["graphql", 1_000, false, 1],
      ["graphql", 5_000, false, 1],
      ["ndjson", 1_000, false, 1],
      ["ndjson", 5_000, false, 1],
      ["ndjson", 5_000, false, 3],
      ["ndjson", 5_000, true, 3],
    ] as const) {
      {
        const created = await gql(
          `mutation { createRun(input: { name: "bench" }) { ... on Run { id } } }`,
          {},
        );
        const id = created.data.createRun.id as string;
        // Bodies are built before the clock starts: the measure is the server's side of a batched call.
        const bodies: string[] = [];
        for (let s = 0; s < TOTAL; s += batch) {
          const rows = rowsOf(s, Math.min(batch, TOTAL - s), custom);
          bodies.push(
            path === "graphql"
              ? JSON.stringify({ query: LOG, variables: { id, rows } })
              : rows.map((r) => JSON.stringify(r)).join("\n"),
          );
        }
        const t0 = performance.now();
        const stored = await send(path, id, bodies, inFlight);
        const apiSecs = (performance.now() - t0) / 1000;
        if (stored !== TOTAL) throw new Error(`stored ${stored} of ${TOTAL}`);

        const run = await makeRun(db, { totalSteps: TOTAL });
        const rows = makeRows(0, TOTAL);
        const n0 = performance.now();
        for (let s = 0; s < TOTAL; s += batch) await db.writeBatchChunk(run.id, rows.slice(s, s + batch));
        const nativeSecs = (performance.now() - n0) / 1000;
        const api = Math.round(TOTAL / apiSecs);
        const native = Math.round(TOTAL / nativeSecs);
        print({
          db: name,
          path: path === "graphql" ? "logMetrics mutation over HTTP" : "POST /runs/{id}/metrics.ndjson",
          rowsPerCall: batch,
          callsInFlight: inFlight,
          customMetricsPerRow: custom ? 2 : 0,
          rows: TOTAL,
          rowsPerSec: api,
          baseline: "native write path (db.writeBatchChunk, same chunk size, no HTTP/GraphQL)",
          baselineRowsPerSec: native,
          ratio: +(api / native).toFixed(2),
        });
      }
    }
  } finally {
    await app.stop();
  }
}

await onBothDatabases("gradstream-bench-ingest", bench);
