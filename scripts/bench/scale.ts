// Scale-out benchmark: 4 concurrent small runs (linear model, 800 steps each, K=10) on
//   - one process that serves and trains (in-memory queue and pub/sub): the baseline,
//   - a cluster API + 1 worker (PostgreSQL queue, Redis fan-out), capacity 1 each like the baseline,
//   - a cluster API + 2 workers, against the baseline process training 2 runs at once.
// On a 2-core machine there is no CPU to gain, so the point is the price of coordination: the wall
// time difference per run and per batch, the gap between one run finishing and the next starting on
// a worker (claim latency), and how long cancelRun takes to stop a run on a remote worker.
// Prints JSON lines; ratios are against the baseline measured in this same run.
import pg from "pg";
import { gqlData as gql } from "../../test/helpers/gql.ts";
import { freePort } from "../../test/helpers/postgres.ts";
import { BIN, type Proc, spawnReady, startLocalCluster } from "../cluster.ts";

const RUNS = 4;
const EPOCHS = Number(process.env.SCALE_EPOCHS ?? 10);
const STEPS = 100 * EPOCHS; // blobs 1000 samples, batch 10

async function startRuns(url: string, n: number, epochs: number): Promise<number[]> {
  const { models } = await gql<{ models: { nodes: { id: string; name: string }[] } }>(
    url,
    "{ models { nodes { id name } } }",
  );
  const model = models.nodes.find((m) => m.name === "linear")?.id;
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await gql<{ startRun: { databaseId: number } }>(
      url,
      `mutation($input: StartRunInput!) { startRun(input: $input) { ... on Run { databaseId } ... on Error { message } } }`,
      {
        input: {
          model,
          datasetSpec: "blobs:samples=1000,shape=10,classes=2",
          batchSize: 10,
          epochs,
          k: 10,
          seed: i,
        },
      },
    );
    ids.push(r.startRun.databaseId);
  }
  return ids;
}

interface Timing {
  wallMs: number;
  /** Mean gap between a run finishing and the next one starting in the same slot. */
  handoffMs: number;
  /** Mean time from creation to start of the first runs (one per slot). */
  firstClaimMs: number;
}

const progress = (m: string) => console.error(`# scale: ${m}`);

async function measure(db: pg.Client, url: string, slots: number): Promise<Timing> {
  progress(`${RUNS} runs on ${url}, ${slots} at a time`);
  const t0 = Date.now();
  const ids = await startRuns(url, RUNS, EPOCHS);
  for (;;) {
    const r = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM "Run" WHERE "id" = ANY($1::int4[]) AND "status" = 'COMPLETED'`,
      [ids],
    );
    if (Number(r.rows[0].n) === ids.length) break;
    if (process.env.SCALE_DEBUG)
      progress(
        JSON.stringify(
          (
            await db.query(
              `SELECT "id", "status", "lastStep", "workerId" FROM "Run" WHERE "id" = ANY($1::int4[])`,
              [ids],
            )
          ).rows,
        ),
      );
    const bad = await db.query(
      `SELECT "id", "status", "errorMessage" FROM "Run" WHERE "id" = ANY($1::int4[]) AND "status" IN ('FAILED','CANCELLED')`,
      [ids],
    );
    if (bad.rows.length) throw new Error(JSON.stringify(bad.rows));
    await new Promise((res) => setTimeout(res, 50));
  }
  const rows = (
    await db.query<{ createdAt: Date; startedAt: Date; finishedAt: Date }>(
      `SELECT "createdAt", "startedAt", "finishedAt" FROM "Run" WHERE "id" = ANY($1::int4[]) ORDER BY "startedAt"`,
      [ids],
    )
  ).rows;
  const wallMs = Math.max(...rows.map((r) => r.finishedAt.getTime())) - t0;
  // With `slots` runs at once, run i + slots starts when one of the earlier ones finishes.
  const finishes = rows.map((r) => r.finishedAt.getTime()).sort((a, b) => a - b);
  const gaps = rows.slice(slots).map((r, i) => r.startedAt.getTime() - finishes[i]);
  const first = rows.slice(0, slots).map((r) => r.startedAt.getTime() - r.createdAt.getTime());
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return { wallMs, handoffMs: mean(gaps), firstClaimMs: mean(first) };
}

async function cancelLatency(url: string): Promise<number> {
  const [id] = await startRuns(url, 1, 1000);
  for (;;) {
    const r = await gql<{ run: { status: string; progress: { step: number } } }>(
      url,
      `query($id: ID!) { run(id: $id) { ... on Run { status progress { step } } } }`,
      { id: String(id) },
    );
    if (r.run.status === "RUNNING" && r.run.progress.step > 50) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const t = performance.now();
  await gql(url, `mutation($id: ID!) { cancelRun(id: $id) { ... on Run { status } } }`, { id: String(id) });
  return performance.now() - t;
}

const line = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: "scale", ...o }));

async function main(): Promise<void> {
  // PostgreSQL and Redis first; the single-process baselines run before any cluster process exists
  // (a cluster process would treat their runs as its own queue's).
  const cluster = await startLocalCluster({ apis: 0, workers: 0, env: { MAX_CONCURRENT_RUNS: "1" } });
  const db = new pg.Client({ connectionString: cluster.databaseUrl });
  await db.connect();
  const extra: Proc[] = [];
  try {
    // Baselines: one process that serves and trains, in-memory queue and pub/sub, same database.
    const single = async (slots: number) => {
      const port = await freePort();
      const proc = await spawnReady(
        `single${slots}`,
        process.execPath,
        [BIN, "serve"],
        {
          DATABASE_URL: cluster.databaseUrl,
          REDIS_URL: "",
          HOST: "127.0.0.1",
          PORT: String(port),
          NODE_ENV: "test",
          MAX_CONCURRENT_RUNS: String(slots),
        },
        /gradstream serving/,
      );
      const url = `http://127.0.0.1:${port}/graphql`;
      try {
        const timing = await measure(db, url, slots);
        const cancelMs = slots === 1 ? await cancelLatency(url) : null;
        return { timing, cancelMs };
      } finally {
        proc.child.kill("SIGTERM");
        await proc.exited;
      }
    };
    const base1 = await single(1);
    const base2 = await single(2);
    const api = (await cluster.startApi()).url;
    extra.push((await cluster.startWorker("w1", { MAX_CONCURRENT_RUNS: "1" })).proc);
    const one = await measure(db, api, 1);
    const cancelMs = await cancelLatency(api);
    extra.push((await cluster.startWorker("w2", { MAX_CONCURRENT_RUNS: "1" })).proc);
    const two = await measure(db, api, 2);
    const batches = RUNS * STEPS;
    const report = (name: string, t: Timing, b: Timing, slots: number) =>
      line({
        case: name,
        runs: RUNS,
        stepsPerRun: STEPS,
        slots,
        wallMs: Math.round(t.wallMs),
        baselineWallMs: Math.round(b.wallMs),
        ratio: +(t.wallMs / b.wallMs).toFixed(3),
        overheadPerRunMs: +((t.wallMs - b.wallMs) / RUNS).toFixed(1),
        overheadPerBatchUs: +(((t.wallMs - b.wallMs) * 1000) / batches).toFixed(1),
        handoffMs: +t.handoffMs.toFixed(1),
        baselineHandoffMs: +b.handoffMs.toFixed(1),
        firstClaimMs: +t.firstClaimMs.toFixed(1),
        baselineFirstClaimMs: +b.firstClaimMs.toFixed(1),
      });
    report("cluster 1 worker vs single process (1 run at a time)", one, base1.timing, 1);
    report("cluster 2 workers vs single process (2 runs at a time)", two, base2.timing, 2);
    line({
      case: "2 workers vs 1 worker",
      wallMs: Math.round(two.wallMs),
      baselineWallMs: Math.round(one.wallMs),
      speedup: +(one.wallMs / two.wallMs).toFixed(3),
    });
    line({
      case: "cancelRun until the run is CANCELLED",
      clusterMs: Math.round(cancelMs),
      singleProcessMs: Math.round(base1.cancelMs ?? 0),
      ratio: +(cancelMs / (base1.cancelMs ?? 1)).toFixed(2),
    });
  } finally {
    await db.end();
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
