// The PostgreSQL run queue (src/runs/queue-pg.ts) against a real server: claims are exclusive, FIFO
// and provider-matched, capacity is respected, leases expire into the queue again, a worker learns it
// lost a run, and cancellation requests reach the holder.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase, RunStatus } from "../../src/db/index.ts";
import { PgRunQueue } from "../../src/runs/queue-pg.ts";
import { MODELS_DIR } from "../../src/server/app.ts";
import { registerBuiltins } from "../../src/server/registry.ts";
import { type TestPostgresServer, testPostgresServer } from "../helpers/postgres.ts";

let server: TestPostgresServer;
let url: string;
let db: Db;
let queue: PgRunQueue;
let modelId: number;
let datasetId: number;

beforeAll(async () => {
  server = await testPostgresServer();
  url = await server.newDatabase();
  db = await openDatabase(url);
  await registerBuiltins(db, MODELS_DIR);
  const model = await db.findModelByName("linear");
  const dataset = await db.findDatasetByName("linear");
  if (!model || !dataset) throw new Error("built-ins missing");
  modelId = model.id;
  datasetId = dataset.id;
  queue = PgRunQueue.open(url);
});

afterAll(async () => {
  await queue?.close();
  await db?.close();
  await server?.stop();
});

async function queued(n: number, provider = "CPU"): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const run = await db.createRun({
      name: `q${i}`,
      modelId,
      datasetId,
      hyperparameters: {},
      providerRequested: provider,
      seed: 0,
      stepsPerChunk: 10,
      totalSteps: 100,
    });
    ids.push(run.id);
  }
  return ids;
}

async function drain(): Promise<void> {
  await db.prisma.run.updateMany({
    where: { status: { in: [RunStatus.QUEUED, RunStatus.RUNNING] } },
    data: { status: RunStatus.CANCELLED },
  });
}

describe("the PostgreSQL run queue", () => {
  it("gives each of 12 runs to exactly one of 4 concurrent claimers, oldest first within a claim", async () => {
    await drain();
    const ids = await queued(12);
    const claims = await Promise.all(["a", "b", "c", "d"].map((w) => queue.claim(w, ["CPU"], 3)));
    const all = claims.flat().sort((x, y) => x - y);
    expect(all).toEqual(ids);
    for (const c of claims) expect(c).toEqual([...c].sort((x, y) => x - y));
    const rows = await db.prisma.run.findMany({ where: { id: { in: ids } }, orderBy: { id: "asc" } });
    expect(rows.every((r) => r.status === RunStatus.RUNNING && r.attempts === 1)).toBe(true);
    expect(new Set(rows.map((r) => r.workerId))).toEqual(new Set(["a", "b", "c", "d"]));
    expect(await queue.claim("e", ["CPU"], 5)).toEqual([]);
  });

  it("claims no more than the capacity asked for and only runs whose provider the worker has", async () => {
    await drain();
    const cuda = await queued(2, "CUDA");
    const cpu = await queued(3, "CPU");
    expect(await queue.claim("cpu-only", ["CPU"], 2)).toEqual(cpu.slice(0, 2));
    expect(await queue.claim("cpu-only", ["CPU"], 5)).toEqual(cpu.slice(2));
    expect(await queue.claim("cpu-only", ["CPU"], 5)).toEqual([]);
    expect(await queue.claim("gpu", ["CPU", "CUDA"], 5)).toEqual(cuda);
  });

  it("requeues a run whose worker stopped heartbeating, and that worker then learns it no longer holds it", async () => {
    await drain();
    const [id] = await queued(1);
    expect(await queue.claim("dead", ["CPU"], 1)).toEqual([id]);
    expect(await queue.heartbeat("dead", [id])).toEqual({ held: [id], cancel: [] });
    // A fresh heartbeat is within any lease; a 0 ms lease has expired for any heartbeat in the past.
    expect((await queue.reapExpired(60_000)).requeued).toEqual([]);
    await new Promise((r) => setTimeout(r, 20));
    expect((await queue.reapExpired(1)).requeued).toEqual([{ runId: id, workerId: "dead" }]);
    const run = await db.getRun(id);
    expect(run?.status).toBe(RunStatus.QUEUED);
    expect(run?.errorMessage).toMatch(
      /worker dead stopped heartbeating; resuming from the latest checkpoint/,
    );
    expect(await queue.heartbeat("dead", [id])).toEqual({ held: [], cancel: [] });
    expect(await queue.claim("alive", ["CPU"], 1)).toEqual([id]);
    expect((await db.getRun(id))?.attempts).toBe(2);
  });

  it("passes a cancellation request to the holder's heartbeat, and takes a queued run out of the queue", async () => {
    await drain();
    const [running, waiting] = await queued(2);
    expect(await queue.claim("w", ["CPU"], 1)).toEqual([running]);
    expect(await queue.requestCancel(running)).toBe(true);
    expect(await queue.heartbeat("w", [running])).toEqual({ held: [running], cancel: [running] });
    expect(await queue.requestCancel(waiting)).toBe(false);
    expect(await queue.takeQueued(waiting)).toBe(true);
    expect(await queue.takeQueued(waiting)).toBe(false);
    expect(await queue.claim("w2", ["CPU"], 5)).toEqual([]);
  });

  it("hands a released run back to the queue only when the releasing worker holds it", async () => {
    await drain();
    const [id] = await queued(1);
    await queue.claim("w", ["CPU"], 1);
    expect(await queue.release(id, "other", "x")).toBe(false);
    expect(await queue.release(id, "w", "worker w shut down")).toBe(true);
    expect((await db.getRun(id))?.status).toBe(RunStatus.QUEUED);
  });

  it("notifies listening workers of a queued run and of a cancellation request naming the run", async () => {
    await drain();
    const listener = PgRunQueue.open(url);
    const heard: string[] = [];
    let wake: () => void = () => {};
    const next = () =>
      new Promise<void>((r) => {
        wake = r;
      });
    await listener.listen({
      queued: () => {
        heard.push("queued");
        wake();
      },
      cancel: (runId) => {
        heard.push(`cancel ${runId}`);
        wake();
      },
    });
    try {
      let got = next();
      await queue.notifyQueued();
      await got;
      const [id] = await queued(1);
      await queue.claim("w", ["CPU"], 1);
      got = next();
      expect(await queue.requestCancel(id)).toBe(true);
      await got;
      expect(heard).toEqual(["queued", `cancel ${id}`]);
    } finally {
      await listener.close();
    }
  });
});
