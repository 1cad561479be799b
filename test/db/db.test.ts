import { beforeAll, describe, expect, it } from "vitest";
import { type Db, METRICS, openDatabase, RunStatus, type TrainedRow } from "../../src/db/index.ts";
import { makeRows, makeRun } from "../helpers/fixtures.ts";
import { BACKENDS, useDatabase } from "./backends.ts";

/** The reference answer: bucket every row of [from, to] by floor(step / width) in JS. */
function bruteHistory(rows: TrainedRow[], from: number, to: number, width: number) {
  const buckets = new Map<number, TrainedRow[]>();
  for (const r of rows) {
    if (r.step < from || r.step > to) continue;
    const k = Math.floor(r.step / width);
    const list = buckets.get(k) ?? [];
    list.push(r);
    buckets.set(k, list);
  }
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, list]) => ({
      firstStep: list[0].step,
      lastStep: list[list.length - 1].step,
      count: list.length,
      loss: {
        min: Math.min(...list.map((r) => r.loss)),
        max: Math.max(...list.map((r) => r.loss)),
        mean: list.reduce((a, r) => a + r.loss, 0) / list.length,
      },
      gradNorm: {
        min: Math.min(...list.map((r) => r.gradNorm)),
        max: Math.max(...list.map((r) => r.gradNorm)),
        mean: list.reduce((a, r) => a + r.gradNorm, 0) / list.length,
      },
    }));
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`database on ${backend.name}`, () => {
    let db: Db;
    let url: string;
    useDatabase(backend, (d, u) => {
      db = d;
      url = u;
    });

    it("applies every committed migration to an empty database once and none again on reopen", async () => {
      const before = await db.rawQuery<{ n: number | string }>(
        `SELECT COUNT(*) AS n FROM "_prisma_migrations"`,
      );
      const again = await openDatabase(url);
      const after = await again.rawQuery<{ name: string }>(
        `SELECT "migration_name" AS name FROM "_prisma_migrations"`,
      );
      await again.close();
      expect(Number(before[0].n)).toBeGreaterThanOrEqual(1);
      expect(after.length).toBe(Number(before[0].n));
      expect(new Set(after.map((r) => r.name)).size).toBe(after.length);
    });

    it("stores a chunk once: a replayed chunk adds no rows and leaves progress and rollups unchanged", async () => {
      const run = await makeRun(db);
      const rows = makeRows(0, 250);
      expect(await db.writeBatchChunk(run.id, rows)).toBe(250);
      const rollupsBefore = await db.rawQuery<{ c: number; s: number }>(
        `SELECT "count" AS c, "sumLoss" AS s FROM "MetricRollup" WHERE "runId" = ${run.id} AND "level" = 100 ORDER BY "bucket"`,
      );
      // Replays overlapping the stored steps (and a few new ones) only add the new ones.
      expect(await db.writeBatchChunk(run.id, rows.slice(100))).toBe(0);
      expect(await db.writeBatchChunk(run.id, makeRows(200, 60))).toBe(10);
      const stored = await db.getRun(run.id);
      expect(stored?.stepsCompleted).toBe(260);
      expect(stored?.lastStep).toBe(259);
      const rollupsAfter = await db.rawQuery<{ c: number; s: number }>(
        `SELECT "count" AS c, "sumLoss" AS s FROM "MetricRollup" WHERE "runId" = ${run.id} AND "level" = 100 ORDER BY "bucket"`,
      );
      expect(rollupsAfter.map((r) => Number(r.c))).toEqual([100, 100, 60]);
      expect(rollupsAfter.slice(0, 2)).toEqual(rollupsBefore.slice(0, 2));
      const page = await db.batchMetricsPage(run.id, -1, 10_000);
      expect(page.rows.length).toBe(260);
      expect(page.rows[17]).toEqual(rows[17]);
    });

    it("rejects a chunk with a NaN loss, naming the step and field, and stores none of its rows", async () => {
      const run = await makeRun(db);
      const rows = makeRows(0, 20);
      rows[13].loss = Number.NaN;
      await expect(db.writeBatchChunk(run.id, rows)).rejects.toThrow(
        /step 13 has loss = NaN; a finite number is required/,
      );
      expect((await db.batchMetricsPage(run.id, -1, 100)).rows).toEqual([]);
    });

    it("rejects a chunk for an unknown run id with an error naming the id", async () => {
      await expect(db.writeBatchChunk(987_654, makeRows(0, 3))).rejects.toThrow("unknown run id 987654");
      await expect(db.updateRun(987_654, { status: RunStatus.RUNNING })).rejects.toThrow(
        "unknown run id 987654",
      );
    });

    it("writes chunks of two runs concurrently without mixing their rows", async () => {
      const [a, b] = await Promise.all([makeRun(db), makeRun(db)]);
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => [
          db.writeBatchChunk(a.id, makeRows(i * 50, 50, 1)),
          db.writeBatchChunk(b.id, makeRows(i * 50, 50, 2)),
        ]).flat(),
      );
      const pa = await db.batchMetricsPage(a.id, -1, 1000);
      const pb = await db.batchMetricsPage(b.id, -1, 1000);
      const expected = (seed: number) =>
        Array.from({ length: 10 }, (_, i) => makeRows(i * 50, 50, seed)).flat();
      expect(pa.rows).toEqual(expected(1));
      expect(pb.rows).toEqual(expected(2));
    });

    it("pages through a run's batches by keyset: every step exactly once, in order", async () => {
      const run = await makeRun(db);
      await db.writeBatchChunk(run.id, makeRows(0, 1234));
      const steps: number[] = [];
      let after = -1;
      let pages = 0;
      for (;;) {
        const page = await db.batchMetricsPage(run.id, after, 100);
        steps.push(...page.rows.map((r) => r.step));
        pages++;
        if (!page.hasNextPage) break;
        after = page.endStep!;
      }
      expect(pages).toBe(13);
      expect(steps).toEqual(Array.from({ length: 1234 }, (_, i) => i));
      await expect(db.batchMetricsPage(run.id, -1, 0)).rejects.toThrow(
        "first must be an integer from 1 to 10000, got 0",
      );
    });

    describe("downsampled history", () => {
      const N = 23_457;
      let runId = 0;
      let rows: TrainedRow[] = [];
      beforeAll(async () => {
        const run = await makeRun(db, { totalSteps: N });
        runId = run.id;
        rows = makeRows(0, N, 42);
        // Chunks that straddle rollup bucket boundaries, written out of order once, exercise the merge.
        for (let s = 0; s < N; s += 777)
          if ((s / 777) % 2 === 1) await db.writeBatchChunk(runId, rows.slice(s, s + 777));
        for (let s = 0; s < N; s += 777)
          if ((s / 777) % 2 === 0) await db.writeBatchChunk(runId, rows.slice(s, s + 777));
      });

      const cases: [number | undefined, number | undefined, number][] = [
        [undefined, undefined, 1000],
        [undefined, undefined, 37],
        [undefined, undefined, 1],
        [undefined, undefined, 2],
        [13, 20_011, 100],
        [9_999, 10_001, 50],
        [1_234, 5_678, 7],
        [15, 999_999, 3],
        [22_000, 23_456, 1000],
        [5, 5, 10],
        [12_345, 17_890, 555],
      ];
      for (const [from, to, maxPoints] of cases) {
        it(`matches a full scan bucket by bucket for steps ${from ?? "start"}…${to ?? "end"} in ≤ ${maxPoints} points`, async () => {
          const h = await db.history(runId, {
            metrics: ["loss", "gradNorm"],
            fromStep: from,
            toStep: to,
            maxPoints,
          });
          const lo = Math.max(0, from ?? 0);
          const hi = Math.min(N - 1, to ?? N - 1);
          const expected = bruteHistory(rows, lo, hi, h.bucketWidth);
          expect(h.buckets.length).toBeLessThanOrEqual(maxPoints);
          expect(h.buckets.length).toBe(expected.length);
          expect(h.first).toEqual(rows[lo]);
          expect(h.last).toEqual(rows[hi]);
          expect(h.buckets[0].firstStep).toBe(lo);
          expect(h.buckets[h.buckets.length - 1].lastStep).toBe(hi);
          h.buckets.forEach((b, i) => {
            const e = expected[i];
            expect([b.firstStep, b.lastStep, b.count]).toEqual([e.firstStep, e.lastStep, e.count]);
            expect(b.values.loss?.min).toBe(e.loss.min);
            expect(b.values.loss?.max).toBe(e.loss.max);
            expect(b.values.loss?.mean).toBeCloseTo(e.loss.mean, 9);
            expect(b.values.gradNorm?.max).toBe(e.gradNorm.max);
            expect(b.values.accuracy).toBeUndefined();
          });
        });
      }

      it("serves a long range from rollups, not raw rows", async () => {
        const h = await db.history(runId, { metrics: ["loss"], maxPoints: 20 });
        expect(h.sourceLevel).toBe(1000);
        expect(h.bucketWidth).toBe(2000);
      });

      it("returns every row as its own bucket when the budget exceeds the range", async () => {
        const h = await db.history(runId, {
          metrics: [...METRICS],
          fromStep: 100,
          toStep: 149,
          maxPoints: 1000,
        });
        expect(h.bucketWidth).toBe(1);
        expect(h.buckets.map((b) => b.firstStep)).toEqual(rows.slice(100, 150).map((r) => r.step));
        expect(h.buckets[7].values.trueClassProb).toEqual({
          min: rows[107].trueClassProb,
          max: rows[107].trueClassProb,
          mean: rows[107].trueClassProb,
        });
      });

      it("returns no buckets for an empty range and rejects an unknown metric by name", async () => {
        const h = await db.history(runId, { metrics: ["loss"], fromStep: 50_000, maxPoints: 10 });
        expect(h).toEqual({ bucketWidth: 1, sourceLevel: 1, buckets: [], first: null, last: null });
        await expect(db.history(runId, { metrics: ["perplexity" as "loss"], maxPoints: 10 })).rejects.toThrow(
          'unknown metric "perplexity"',
        );
      });
    });

    it("records epochs, keeps the best validation accuracy, and returns the latest checkpoint", async () => {
      const run = await makeRun(db);
      await db.writeEpoch(run.id, {
        epoch: 0,
        trainLoss: 0.9,
        trainAccuracy: 0.5,
        valLoss: 0.8,
        valAccuracy: 0.6,
        batches: 10,
        timeMs: 5,
      });
      await db.writeEpoch(run.id, {
        epoch: 1,
        trainLoss: 0.7,
        trainAccuracy: 0.6,
        valLoss: 0.9,
        valAccuracy: 0.55,
        batches: 10,
        timeMs: 5,
      });
      // A replayed earlier epoch (e.g. after a resume) lowers neither counter.
      await db.writeEpoch(run.id, {
        epoch: 0,
        trainLoss: 0.9,
        trainAccuracy: 0.5,
        valLoss: 0.8,
        valAccuracy: 0.6,
        batches: 10,
        timeMs: 5,
      });
      expect((await db.epochMetrics(run.id)).map((e) => e.valAccuracy)).toEqual([0.6, 0.55]);
      const stored = await db.getRun(run.id);
      expect([stored?.epochsCompleted, stored?.bestValAccuracy]).toEqual([2, 0.6]);
      expect(await db.latestCheckpoint(run.id)).toBeNull();
      await db.saveCheckpoint(run.id, { step: 99, epoch: 0, state: new Uint8Array([1, 2, 3]) });
      await db.saveCheckpoint(run.id, { step: 199, epoch: 1, state: Buffer.from([4, 5]) });
      const cp = await db.latestCheckpoint(run.id);
      expect([cp?.step, cp?.epoch, [...(cp?.state ?? [])]]).toEqual([199, 1, [4, 5]]);
    });

    it("returns model bytes and checkpoint state byte for byte through the store; model rows carry no bytes", async () => {
      // A few MB, every byte value at every position class: what Prisma's adapter once turned into an
      // array of numbers on the event loop is now a Buffer from the store.
      const onnx = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 131 + (i >> 8)) & 255);
      const model = await db.createModel({
        name: `blob-${Date.now()}-${Math.random()}`,
        source: "UPLOAD",
        onnx,
        contentHash: "x",
        inputShape: [1],
        classes: 2,
        parameterCount: 1,
        opSummary: {},
      });
      expect("onnx" in model).toBe(false);
      expect("onnx" in ((await db.getModel(model.id)) ?? {})).toBe(false);
      expect(Buffer.compare(Buffer.from((await db.modelOnnx(model.id)) ?? []), Buffer.from(onnx))).toBe(0);
      expect(await db.modelOnnx(2 ** 31 - 1)).toBeNull();
      const run = await makeRun(db);
      const state = onnx.subarray(1, 1 + (1 << 20));
      await db.saveCheckpoint(run.id, { step: 9, epoch: 0, state });
      const cp = await db.latestCheckpoint(run.id);
      expect(cp?.step).toBe(9);
      expect(Buffer.compare(Buffer.from(cp?.state ?? []), Buffer.from(state))).toBe(0);
      await expect(db.modelOnnx(1.5)).rejects.toThrow("row id must be an integer, got 1.5");
    });

    it("deletes a run with its batches, rollups, epochs and checkpoints", async () => {
      const run = await makeRun(db);
      const keep = await makeRun(db);
      await db.writeBatchChunk(run.id, makeRows(0, 300));
      await db.writeBatchChunk(keep.id, makeRows(0, 30));
      await db.writeEpoch(run.id, {
        epoch: 0,
        trainLoss: 1,
        trainAccuracy: 0,
        valLoss: null,
        valAccuracy: null,
        batches: 3,
        timeMs: 1,
      });
      await db.saveCheckpoint(run.id, { step: 299, epoch: 2, state: new Uint8Array(16) });
      expect(await db.deleteRun(run.id)).toBe(true);
      expect(await db.deleteRun(run.id)).toBe(false);
      const counts = await Promise.all(
        ["BatchMetric", "MetricRollup", "EpochMetric", "Checkpoint"].map(async (t) => {
          const r = await db.rawQuery<{ n: number | string }>(
            `SELECT COUNT(*) AS n FROM "${t}" WHERE "runId" = ${run.id}`,
          );
          return Number(r[0].n);
        }),
      );
      expect(counts).toEqual([0, 0, 0, 0]);
      expect((await db.batchMetricsPage(keep.id, -1, 100)).rows.length).toBe(30);
    });

    it("with a staleness threshold, interrupts only RUNNING runs whose heartbeat stopped", async () => {
      const fresh = await openDatabase(await backend.newUrl());
      try {
        const [alive, dead, never] = [await makeRun(fresh), await makeRun(fresh), await makeRun(fresh)];
        for (const r of [alive, dead, never]) await fresh.updateRun(r.id, { status: RunStatus.RUNNING });
        await fresh.writeBatchChunk(alive.id, makeRows(0, 10));
        await fresh.writeBatchChunk(dead.id, makeRows(0, 10));
        const beat = (await fresh.getRun(alive.id))?.heartbeatAt;
        // A chunk write stamps the heartbeat (stored and read back as a Date within this test's span).
        expect(beat instanceof Date && Math.abs(beat.getTime() - Date.now()) < 60_000).toBe(true);
        await fresh.prisma.run.update({
          where: { id: dead.id },
          data: { heartbeatAt: new Date(Date.now() - 3_600_000) },
        });
        expect(await fresh.recoverAfterCrash({ staleAfterMs: 600_000 })).toEqual({
          interrupted: [dead.id, never.id],
          queued: [],
        });
        expect((await fresh.getRun(alive.id))?.status).toBe(RunStatus.RUNNING);
        await fresh.heartbeat(never.id);
        await expect(fresh.heartbeat(424_242)).rejects.toThrow("unknown run id 424242");
      } finally {
        await fresh.close();
      }
    });

    it("finishes the chunks in flight when closed: every write called before close() is stored", async () => {
      const url2 = await backend.newUrl();
      const first = await openDatabase(url2);
      const run = await makeRun(first);
      const writes = Array.from({ length: 8 }, (_, i) =>
        first.writeBatchChunk(run.id, makeRows(i * 100, 100)),
      );
      await first.close();
      expect(await Promise.all(writes)).toEqual(Array(8).fill(100));
      await expect(first.writeBatchChunk(run.id, makeRows(800, 1))).rejects.toThrow();
      const second = await openDatabase(url2);
      try {
        expect((await second.getRun(run.id))?.stepsCompleted).toBe(800);
      } finally {
        await second.close();
      }
    });

    it("marks runs left RUNNING as INTERRUPTED at start and hands back QUEUED runs oldest first", async () => {
      const fresh = await openDatabase(await backend.newUrl());
      try {
        const [a, b, c, d] = [
          await makeRun(fresh),
          await makeRun(fresh),
          await makeRun(fresh),
          await makeRun(fresh),
        ];
        await fresh.updateRun(a.id, { status: RunStatus.RUNNING });
        await fresh.updateRun(d.id, { status: RunStatus.COMPLETED });
        expect(await fresh.recoverAfterCrash()).toEqual({ interrupted: [a.id], queued: [b.id, c.id] });
        const statuses = await Promise.all([a, b, c, d].map(async (r) => (await fresh.getRun(r.id))?.status));
        expect(statuses).toEqual([
          RunStatus.INTERRUPTED,
          RunStatus.QUEUED,
          RunStatus.QUEUED,
          RunStatus.COMPLETED,
        ]);
      } finally {
        await fresh.close();
      }
    });
  });
}
