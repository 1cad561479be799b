// npm run bench -- db: persistence throughput and history latency, each beside its baseline measured
// in the same run, on SQLite (temp file) and PostgreSQL (a throwaway cluster, or GRADSTREAM_TEST_PG_URL).
//   write:   writeBatchChunk (driver path + rollups) vs Prisma createMany, rows/s, same chunk size
//   history: 1,000,000-step run → 1,000 points from rollups vs one aggregate over the raw rows
// Prints one JSON line per measurement.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type Db, openDatabase } from "../../src/db/index.ts";
import { rawHistorySql } from "../../src/db/sql.ts";
import { makeRows, makeRun } from "../../test/helpers/fixtures.ts";
import { onBothDatabases } from "./databases.ts";

const HISTORY_STEPS = Number(process.argv[2] ?? 1_000_000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const print = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: "db", ...o }));

async function writeThroughput(db: Db, chunk: number, total: number) {
  const run = await makeRun(db, { totalSteps: total });
  const rows = makeRows(0, total);
  const blocks: number[] = [];
  // How long the main thread was unavailable: the delay of a 1 ms timer while chunks are written.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t0 = performance.now();
  for (let s = 0; s < total; s += chunk) {
    const c0 = performance.now();
    await db.writeBatchChunk(run.id, rows.slice(s, s + chunk));
    blocks.push(performance.now() - c0);
  }
  const secs = (performance.now() - t0) / 1000;
  loop.disable();
  return {
    rowsPerSec: Math.round(total / secs),
    p99ChunkMs: +blocks.sort((a, b) => a - b)[Math.floor(blocks.length * 0.99)].toFixed(2),
    eventLoopDelayMaxMs: +(loop.max / 1e6).toFixed(2),
    eventLoopDelayP99Ms: +(loop.percentile(99) / 1e6).toFixed(2),
  };
}

async function createManyThroughput(db: Db, chunk: number, total: number) {
  const run = await makeRun(db, { totalSteps: total });
  const rows = makeRows(0, total);
  const t0 = performance.now();
  for (let s = 0; s < total; s += chunk) {
    await db.prisma.batchMetric.createMany({
      data: rows.slice(s, s + chunk).map((r) => ({ runId: run.id, ...r })),
    });
  }
  return { rowsPerSec: Math.round(total / ((performance.now() - t0) / 1000)) };
}

async function bench(name: string, url: string) {
  const db = await openDatabase(url);
  try {
    for (const chunk of [100, 1000]) {
      const ours = await writeThroughput(db, chunk, 100_000);
      const base = await createManyThroughput(db, chunk, 10_000);
      print({
        db: name,
        what: "write",
        chunk,
        rowsPerSec: ours.rowsPerSec,
        p99ChunkMs: ours.p99ChunkMs,
        eventLoopDelayP99Ms: ours.eventLoopDelayP99Ms,
        eventLoopDelayMaxMs: ours.eventLoopDelayMaxMs,
        baseline: "prisma createMany",
        baselineRowsPerSec: base.rowsPerSec,
        ratio: +(ours.rowsPerSec / base.rowsPerSec).toFixed(1),
      });
    }

    const run = await makeRun(db, { totalSteps: HISTORY_STEPS });
    const l0 = performance.now();
    for (let s = 0; s < HISTORY_STEPS; s += 5000)
      await db.writeBatchChunk(run.id, makeRows(s, Math.min(5000, HISTORY_STEPS - s), s));
    const loadSecs = (performance.now() - l0) / 1000;
    const metrics = ["loss", "accuracy"] as const;
    const ours: number[] = [];
    let width = 0;
    let points = 0;
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      const h = await db.history(run.id, { metrics, maxPoints: 1000 });
      ours.push(performance.now() - t);
      width = h.bucketWidth;
      points = h.buckets.length;
    }
    // An off-grid range too: partial edge buckets are read from raw rows.
    const offGrid: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      await db.history(run.id, { metrics, fromStep: 12_345, toStep: HISTORY_STEPS - 6_789, maxPoints: 1000 });
      offGrid.push(performance.now() - t);
    }
    const base: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await db.rawQuery(rawHistorySql(run.id, 0, HISTORY_STEPS - 1, width, metrics));
      base.push(performance.now() - t);
    }
    print({
      db: name,
      what: "history",
      steps: HISTORY_STEPS,
      points,
      ms: +median(ours).toFixed(2),
      offGridMs: +median(offGrid).toFixed(2),
      baseline: "one raw-table aggregate",
      baselineMs: +median(base).toFixed(1),
      ratio: +(median(base) / median(ours)).toFixed(1),
      loadRowsPerSec: Math.round(HISTORY_STEPS / loadSecs),
    });
  } finally {
    await db.close();
  }
}

await onBothDatabases("gradstream-bench", bench);
