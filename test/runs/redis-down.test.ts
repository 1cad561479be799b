// Redis killed mid-run in a cluster (PostgreSQL queue, Redis fan-out): the server does not crash, and
// a graphql-ws subscriber still receives every step once, in order, then the final chunk: the batches
// bus reads new rows from the database while Redis is down.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Proc, startRedis, stopProc } from "../../scripts/cluster.ts";
import { dbId } from "../helpers/ids.ts";
import {
  type Chunk,
  collectWs,
  type Live,
  range,
  startLive,
  startNamedRun,
  steps,
} from "../helpers/live-server.ts";
import { type TestPostgres, testPostgres } from "../helpers/postgres.ts";

let pg: TestPostgres;
let redis: Proc;
let live: Live;

beforeAll(async () => {
  pg = await testPostgres();
  const started = await startRedis();
  redis = started.proc;
  live = await startLive({ DATABASE_URL: pg.url, REDIS_URL: started.url });
});
afterAll(async () => {
  await live?.close();
  if (redis && redis.child.exitCode === null) await stopProc(redis);
  await pg?.stop();
});

describe("Redis down in a cluster", () => {
  it("keeps serving, and a subscriber gets every step once and the final chunk after redis-server is killed mid-run", async () => {
    const runId = (
      await startNamedRun(
        live,
        { model: "linear", dataset: "batch-size" },
        { batchSize: 1, epochs: 8, k: 10 },
      )
    ).id;
    expect(runId).not.toBe("");
    const collected = collectWs(live.wsUrl, runId);
    const db = live.app.db;
    if (!db) throw new Error("no database");
    while (((await db.getRun(dbId(runId)))?.stepsCompleted ?? 0) < 300)
      await new Promise((r) => setTimeout(r, 20));
    redis.child.kill("SIGKILL");
    await redis.exited;

    const chunks: Chunk[] = await collected;
    expect(steps(chunks)).toEqual(range(8_000));
    expect(chunks.at(-1)?.final).toBe(true);
    const after = await live.gql<{ run: { status: string; stepsCompleted: number } }>(
      `query($id: ID!) { run(id: $id) { ... on Run { status stepsCompleted } } }`,
      { id: runId },
    );
    expect(after.data?.run).toEqual({ status: "COMPLETED", stepsCompleted: 8_000 });
  });
});
