// PostgreSQL stopped (pg_ctl stop -m fast) and started again while gradstream works: run writes wait
// and retry until DB_RETRY_DEADLINE_MS, then go on with nothing lost or fail with the reason; queries
// meanwhile answer DATABASE_UNAVAILABLE (HTTP 503), and the server keeps serving.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseUnavailableError, databaseUnavailable, openDatabase } from "../../src/db/index.ts";
import { makeRows, makeRun } from "../helpers/fixtures.ts";
import { dbId } from "../helpers/ids.ts";
import { startLive, startNamedRun } from "../helpers/live-server.ts";
import { type Cluster, startCluster } from "../helpers/postgres.ts";

let cluster: Cluster;
let made = 0;

/** A new empty database on the test cluster. */
async function newDatabase(): Promise<string> {
  const name = `restart_${++made}`;
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  return cluster.adminUrl.replace(/\/postgres$/, `/${name}`);
}

async function queryWhileDown(url: string, runId: number) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query: `query($id: ID!) { run(id: $id) { ... on Run { status } } }`,
      variables: { id: String(runId) },
    }),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

async function postWhileDown(url: string, runId: string | undefined) {
  const res = await fetch(`${url.replace(/\/graphql$/, "")}/runs/${runId}/metrics.ndjson`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: '{"step": 0, "loss": 1}',
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => cluster?.stop());

describe("PostgreSQL restarted mid-run", () => {
  it("holds a chunk write while the server is down and stores it once when it is back; reads fail fast meanwhile", async () => {
    const db = await openDatabase(await newDatabase(), { retryDeadlineMs: 120_000 });
    try {
      const run = await makeRun(db, { totalSteps: 20 });
      expect(await db.writeBatchChunk(run.id, makeRows(0, 10))).toBe(10);
      cluster.pause();
      let settled = false;
      const write = db.writeBatchChunk(run.id, makeRows(10, 10)).finally(() => {
        settled = true;
      });
      const read = await db.batchMetricsPage(run.id, -1, 100).then(
        () => null,
        (err: unknown) => databaseUnavailable(err),
      );
      await sleep(500);
      const pending = !settled;
      cluster.resume();
      expect(read).toMatch(/^the database is unreachable \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
      expect(pending).toBe(true);
      expect(await write).toBe(10);
      const page = await db.batchMetricsPage(run.id, -1, 100);
      expect(page.rows.map((r) => r.step)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect((await db.getRun(run.id))?.stepsCompleted).toBe(20);
    } finally {
      await db.close();
    }
  });

  it("gives up after DB_RETRY_DEADLINE_MS with DatabaseUnavailableError naming the cause and the setting", async () => {
    const db = await openDatabase(await newDatabase(), { retryDeadlineMs: 300 });
    try {
      const run = await makeRun(db, { totalSteps: 10 });
      cluster.pause();
      const err = await db
        .writeBatchChunk(run.id, makeRows(0, 10))
        .catch((e: unknown) => e)
        .finally(() => cluster.resume());
      expect(err).toBeInstanceOf(DatabaseUnavailableError);
      expect((err as Error).message).toMatch(
        /^the database is unreachable \(connect ECONNREFUSED [^)]+\); run \d+'s write of steps 0…9 was retried for \d+ ms and gave up \(DB_RETRY_DEADLINE_MS=300\); what was stored before is kept/,
      );
      expect((await db.batchMetricsPage(run.id, -1, 10)).rows).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("answers queries and NDJSON posts with 503 DATABASE_UNAVAILABLE while down, and a trained run completes with every step once", async () => {
    const live = await startLive({ DATABASE_URL: await newDatabase(), DB_RETRY_DEADLINE_MS: "120000" });
    try {
      const startedId = (
        await startNamedRun(
          live,
          { model: "linear", dataset: "batch-size" },
          { batchSize: 1, epochs: 20, k: 10 },
        )
      ).id;
      const runId = dbId(startedId);
      const external = await live.gql<{ createRun: { id: string } }>(
        `mutation { createRun(input: { name: "ext" }) { ... on Run { id } } }`,
      );
      const extId = external.data?.createRun.id;
      const db = live.app.db;
      if (!db) throw new Error("no database");
      while (((await db.getRun(runId))?.stepsCompleted ?? 0) < 500) await sleep(20);

      cluster.pause();
      const answers = await Promise.all([
        queryWhileDown(live.url, runId),
        postWhileDown(live.url, extId),
      ]).finally(() => sleep(1_000).then(() => cluster.resume()));
      expect(answers[0].status).toBe(503);
      const body = answers[0].body as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(body.errors[0].extensions).toEqual({ code: "DATABASE_UNAVAILABLE" });
      expect(body.errors[0].message).toMatch(/^the database is unreachable \(.+\): try again shortly$/);
      expect(body.errors[0].message).not.toMatch(/\.ts|node_modules/);
      expect(answers[1].status).toBe(503);
      expect(
        (answers[1].body as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code,
      ).toBe("DATABASE_UNAVAILABLE");

      let status = "";
      while (!["COMPLETED", "FAILED", "CANCELLED"].includes(status)) {
        await sleep(100);
        status = (await db.getRun(runId))?.status ?? "";
      }
      const run = await db.getRun(runId);
      expect({ status: run?.status, error: run?.errorMessage, steps: run?.stepsCompleted }).toEqual({
        status: "COMPLETED",
        error: null,
        steps: 20_000,
      });
      const [count] = await db.rawQuery<{ n: number; lo: number; hi: number }>(
        `SELECT CAST(COUNT(*) AS int4) AS n, MIN("step") AS lo, MAX("step") AS hi FROM "BatchMetric" WHERE "runId" = ${runId}`,
      );
      expect(count).toEqual({ n: 20_000, lo: 0, hi: 19_999 });
    } finally {
      await live.close();
    }
  });
});
