// Scale-out end to end (issue 9): PostgreSQL + Redis + 2 API instances + 2 workers, each a real
// process. A sweep of 8 runs is started on one API instance and every run is watched through the
// other; one worker is SIGKILLed mid-run. Every run must complete, the killed worker's run must
// resume on the other worker, every subscriber must get every step exactly once, and the rows in
// PostgreSQL must be exactly what was streamed.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCluster, startLocalCluster } from "../../scripts/cluster.ts";
import { gqlData as gql } from "../helpers/gql.ts";
import { dbId, gid } from "../helpers/ids.ts";
import { type Chunk, range, steps, wsClient } from "../helpers/live-server.ts";

const CHUNKS = `subscription($runId: ID!, $afterStep: Int! = -1) {
  batchMetrics(runId: $runId, afterStep: $afterStep) { runId lastStep final rows { step epoch loss accuracy } } }`;

let cluster: LocalCluster;
let db: pg.Client;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  cluster = await startLocalCluster({
    apis: 2,
    workers: 2,
    // Small checkpoints so a resumed run repeats little; a short lease so the test does not wait long.
    env: { CHECKPOINT_EVERY: "40", LEASE_MS: "2000", QUEUE_POLL_MS: "200", MAX_CONCURRENT_RUNS: "1" },
  });
  db = new pg.Client({ connectionString: cluster.databaseUrl });
  await db.connect();
}, 180_000);

afterAll(async () => {
  await db?.end();
  await cluster?.stop();
});

describe("a cluster of 2 API instances and 2 workers on PostgreSQL and Redis", () => {
  it("completes a sweep of 8 runs with one worker SIGKILLed mid-run, streaming every step once to subscribers on the other instance", async () => {
    const [apiA, apiB] = cluster.apis;
    const { models } = await gql<{ models: { nodes: { id: string; name: string }[] } }>(
      apiA.url,
      "{ models { nodes { id name } } }",
    );
    const linear = models.nodes.find((m) => m.name === "linear");
    expect(linear).toBeDefined();
    const started = await gql<{
      startSweep: { id: string; runs: { nodes: { id: string; totalSteps: number; status: string }[] } };
    }>(
      apiA.url,
      `mutation($input: StartSweepInput!) { startSweep(input: $input) {
        ... on Sweep { id runs { nodes { id totalSteps status } } } ... on Error { message } } }`,
      {
        input: {
          name: "scale test",
          model: linear?.id,
          datasetSpec: "blobs:samples=1000,shape=10,classes=2",
          base: { epochs: 4, k: 2, validation: { fraction: 0.2 } },
          strategy: "GRID",
          space: { lr: [0.01, 0.05], batchSize: [10], seed: [1, 2, 3, 4] },
        },
      },
    );
    const sweep = { id: started.startSweep.id, runs: started.startSweep.runs.nodes };
    expect(sweep.runs).toHaveLength(8);
    // 800 training samples / batch 10 = 80 steps per epoch, 4 epochs.
    expect(sweep.runs.map((r) => r.totalSteps)).toEqual(Array(8).fill(320));

    // Every run watched through the instance that did not start it.
    const client = wsClient(apiB.url.replace(/^http/, "ws"));
    const streamed = new Map<string, Chunk[]>();
    const watching = sweep.runs.map(async (run) => {
      const chunks: Chunk[] = [];
      streamed.set(run.id, chunks);
      for await (const r of client.iterate<{ batchMetrics: Chunk }>({
        query: CHUNKS,
        variables: { runId: run.id },
      })) {
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        if (r.data) chunks.push(r.data.batchMetrics);
      }
    });

    // Kill w1 while it trains a run that is past its first checkpoint.
    let victim: number | null = null;
    for (let i = 0; i < 600 && victim === null; i++) {
      const r = await db.query<{ id: number }>(
        `SELECT "id" FROM "Run" WHERE "workerId" = 'w1' AND "status" = 'RUNNING' AND "lastStep" >= 60
         AND EXISTS (SELECT 1 FROM "Checkpoint" c WHERE c."runId" = "Run"."id")`,
      );
      if (r.rows.length) victim = r.rows[0].id;
      else await sleep(50);
    }
    expect(victim).not.toBeNull();
    const w1 = cluster.workers[0].proc;
    w1.child.kill("SIGKILL");
    await w1.exited;
    const killedAt = await db.query<{ lastStep: number }>(`SELECT "lastStep" FROM "Run" WHERE "id" = $1`, [
      victim,
    ]);
    expect(killedAt.rows[0].lastStep).toBeLessThan(319);
    // It resumes from a checkpoint past step 0 (not from scratch), continuing the same numbering.
    const cp = await db.query<{ step: number }>(
      `SELECT max("step") AS step FROM "Checkpoint" WHERE "runId" = $1`,
      [victim],
    );
    expect(cp.rows[0].step).toBeGreaterThanOrEqual(40);

    await Promise.all(watching);
    await client.dispose();

    const runs = await db.query<{
      id: number;
      status: string;
      workerId: string;
      attempts: number;
      stepsCompleted: number;
    }>(
      `SELECT "id", "status", "workerId", "attempts", "stepsCompleted" FROM "Run" WHERE "sweepId" = $1 ORDER BY "id"`,
      [dbId(sweep.id, "Sweep")],
    );
    expect(runs.rows.map((r) => r.status)).toEqual(Array(8).fill("COMPLETED"));
    expect(runs.rows.every((r) => r.stepsCompleted === 320)).toBe(true);
    const resumed = runs.rows.find((r) => r.id === victim);
    expect(resumed).toMatchObject({ workerId: "w2", attempts: 2 });
    // Only the victim was claimed twice; runs w1 finished before it died keep w1 as their worker.
    expect(runs.rows.filter((r) => r.attempts !== 1).map((r) => r.id)).toEqual([victim]);

    for (const run of sweep.runs) {
      const chunks = streamed.get(run.id) ?? [];
      expect(steps(chunks)).toEqual(range(320));
      expect(chunks.at(-1)?.final).toBe(true);
      const rows = await db.query<{ step: number; loss: number; accuracy: number }>(
        `SELECT "step", "loss", "accuracy" FROM "BatchMetric" WHERE "runId" = $1 ORDER BY "step"`,
        [dbId(run.id)],
      );
      expect(rows.rows).toEqual(
        chunks.flatMap((c) => c.rows.map((r) => ({ step: r.step, loss: r.loss, accuracy: r.accuracy }))),
      );
    }

    // The sweep's report: the best run by validation accuracy, and a comparison over all 8.
    const report = await gql<{
      sweep: {
        completed: number;
        best: { id: string; bestValAccuracy: number } | null;
        compare: { points: unknown[] }[];
      };
    }>(
      apiB.url,
      `query($id: ID!) { sweep(id: $id) { ... on Sweep { completed best { id bestValAccuracy } compare(metric: LOSS, maxPoints: 20) { points { step } } } } }`,
      { id: sweep.id },
    );
    expect(report.sweep.completed).toBe(8);
    const best = await db.query<{ id: number }>(
      `SELECT "id" FROM "Run" WHERE "sweepId" = $1 ORDER BY "bestValAccuracy" DESC, "id" ASC LIMIT 1`,
      [dbId(sweep.id, "Sweep")],
    );
    expect(report.sweep.best?.id).toBe(gid("Run", best.rows[0].id));
    expect(report.sweep.compare).toHaveLength(8);
    expect(report.sweep.compare.every((s) => s.points.length > 0 && s.points.length <= 20)).toBe(true);
  }, 240_000);

  it("cancels a queued run before any worker claims it, and a run training on a worker from the other API instance", async () => {
    const [apiA, apiB] = cluster.apis;
    const { models } = await gql<{ models: { nodes: { id: string; name: string }[] } }>(
      apiA.url,
      "{ models { nodes { id name } } }",
    );
    const start = async (epochs: number) => {
      const r = await gql<{ startRun: { id: string } }>(
        apiA.url,
        `mutation($input: StartRunInput!) { startRun(input: $input) { ... on Run { id } ... on Error { message } } }`,
        {
          input: {
            model: models.nodes.find((m) => m.name === "linear")?.id,
            datasetSpec: "blobs:samples=1000,shape=10,classes=2",
            batchSize: 10,
            epochs,
            k: 2,
          },
        },
      );
      return dbId(r.startRun.id);
    };
    const cancel = (id: number) =>
      gql<{ cancelRun: { status: string; errorMessage: string | null } }>(
        apiB.url,
        `mutation($id: ID!) { cancelRun(id: $id) { ... on Run { status errorMessage } ... on Error { message } } }`,
        { id: gid("Run", id) },
      );
    // The surviving worker (capacity 1) takes the long run; the second one waits in the queue.
    const long = await start(200);
    const waiting = await start(1);
    let running = false;
    for (let i = 0; i < 400 && !running; i++) {
      const r = await db.query<{ status: string; lastStep: number | null }>(
        `SELECT "status", "lastStep" FROM "Run" WHERE "id" = $1`,
        [long],
      );
      running = r.rows[0].status === "RUNNING" && (r.rows[0].lastStep ?? -1) >= 20;
      if (!running) await sleep(50);
    }
    expect(running).toBe(true);
    expect((await cancel(waiting)).cancelRun).toEqual({
      status: "CANCELLED",
      errorMessage: "cancelled before it started",
    });
    expect((await cancel(long)).cancelRun.status).toBe("CANCELLED");
    const rows = await db.query<{ id: number; status: string; attempts: number; stepsCompleted: number }>(
      `SELECT "id", "status", "attempts", "stepsCompleted" FROM "Run" WHERE "id" = ANY($1::int4[]) ORDER BY "id"`,
      [[long, waiting]],
    );
    expect(rows.rows.map((r) => [r.status, r.attempts])).toEqual([
      ["CANCELLED", 1],
      ["CANCELLED", 0],
    ]);
    // The worker stopped: nothing more is written after the cancellation returned.
    await sleep(600);
    const again = await db.query<{ stepsCompleted: number }>(
      `SELECT "stepsCompleted" FROM "Run" WHERE "id" = $1`,
      [long],
    );
    expect(again.rows[0].stepsCompleted).toBe(rows.rows[0].stepsCompleted);
    expect(rows.rows[0].stepsCompleted).toBeLessThan(16_000);
  }, 120_000);

  it("hands a run back to the queue when its worker is stopped with SIGTERM, and another worker finishes it without a gap", async () => {
    const [apiA, apiB] = cluster.apis;
    const w3 = await cluster.startWorker("w3", {
      CHECKPOINT_EVERY: "40",
      LEASE_MS: "2000",
      QUEUE_POLL_MS: "200",
    });
    const { models } = await gql<{ models: { nodes: { id: string; name: string }[] } }>(
      apiA.url,
      "{ models { nodes { id name } } }",
    );
    const r = await gql<{ startRun: { id: string; totalSteps: number } }>(
      apiA.url,
      `mutation($input: StartRunInput!) { startRun(input: $input) { ... on Run { id totalSteps } ... on Error { message } } }`,
      {
        input: {
          model: models.nodes.find((m) => m.name === "linear")?.id,
          datasetSpec: "blobs:samples=1000,shape=10,classes=2",
          batchSize: 10,
          epochs: 8,
          k: 2,
        },
      },
    );
    const id = dbId(r.startRun.id);
    const client = wsClient(apiB.url.replace(/^http/, "ws"));
    const chunks: Chunk[] = [];
    const watching = (async () => {
      for await (const e of client.iterate<{ batchMetrics: Chunk }>({
        query: CHUNKS,
        variables: { runId: gid("Run", id) },
      })) {
        if (e.errors) throw new Error(JSON.stringify(e.errors));
        if (e.data) chunks.push(e.data.batchMetrics);
      }
    })();
    let holder: string | null = null;
    for (let i = 0; i < 400 && holder === null; i++) {
      const q = await db.query<{ workerId: string | null; lastStep: number | null; status: string }>(
        `SELECT "workerId", "lastStep", "status" FROM "Run" WHERE "id" = $1`,
        [id],
      );
      const row = q.rows[0];
      if (row.status === "RUNNING" && (row.lastStep ?? -1) >= 60) holder = row.workerId;
      else await sleep(50);
    }
    expect(holder === "w2" || holder === "w3").toBe(true);
    const stopped = holder === "w3" ? w3 : cluster.workers[1];
    stopped.proc.child.kill("SIGTERM");
    expect(await stopped.proc.exited).toBe(0);
    await watching;
    await client.dispose();
    const done = await db.query<{ status: string; workerId: string; attempts: number }>(
      `SELECT "status", "workerId", "attempts" FROM "Run" WHERE "id" = $1`,
      [id],
    );
    expect(done.rows[0]).toEqual({
      status: "COMPLETED",
      workerId: holder === "w3" ? "w2" : "w3",
      attempts: 2,
    });
    expect(steps(chunks)).toEqual(range(r.startRun.totalSteps));
  }, 120_000);
});
