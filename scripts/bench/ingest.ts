// npm run bench -- ingest: rows/s of an EXTERNAL run through the API (logMetrics over HTTP, as a
// trainer sends them: batched calls, one after another), beside the native write path (the trained
// runs' db.writeBatchChunk, no HTTP or GraphQL) measured in the same run on the same server, on SQLite
// (temp file) and PostgreSQL (a throwaway cluster). Target: ≥ 50,000 rows/s on SQLite.
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
  try {
    for (const [batch, custom, inFlight] of [
      [1_000, false, 1],
      [5_000, false, 1],
      [5_000, false, 3],
      [5_000, true, 3],
    ] as const) {
      {
        const created = await gql(
          `mutation { createRun(input: { name: "bench" }) { ... on Run { id } } }`,
          {},
        );
        const id = created.data.createRun.id;
        // Bodies are built before the clock starts: the measure is the server's side of a batched call.
        const bodies: string[] = [];
        for (let s = 0; s < TOTAL; s += batch)
          bodies.push(
            JSON.stringify({
              query: LOG,
              variables: { id, rows: rowsOf(s, Math.min(batch, TOTAL - s), custom) },
            }),
          );
        const t0 = performance.now();
        let stored = 0;
        for (const body of bodies) {
          const res = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
          });
          const out = (await res.json()) as { data: { logMetrics: { stored?: number; message?: string } } };
          if (out.data.logMetrics.stored === undefined) throw new Error(out.data.logMetrics.message);
          stored += out.data.logMetrics.stored;
        }
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
