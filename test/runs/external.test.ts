// External runs through the service (src/runs/external.ts) on a real SQLite file and a real
// PostgreSQL server: sparse metrics, custom metrics downsampled by name, idempotency per step, limits,
// idle interruption and finishing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase, RunKind, RunStatus } from "../../src/db/index.ts";
import { ValidationError } from "../../src/errors.ts";
import { Broadcaster } from "../../src/runs/broadcast.ts";
import { ExternalRuns, type LogRow } from "../../src/runs/external.ts";
import type { BatchChunkEvent, RunEvent, RunsChangedEvent } from "../../src/runs/types.ts";
import { BACKENDS } from "../db/backends.ts";

const LIMITS = { maxLogRows: 2_000, maxCustomMetrics: 3, maxMetricNameLength: 20, idleMs: 60_000 };

/** Steps [from, from + n): loss on every step, accuracy on even steps only, two custom metrics. */
function logRows(from: number, n: number): LogRow[] {
  return Array.from({ length: n }, (_, i) => {
    const step = from + i;
    return {
      step,
      epoch: Math.floor(step / 100),
      loss: 1 + Math.sin(step) / 2,
      accuracy: step % 2 === 0 ? (step % 7) / 7 : null,
      custom: { perplexity: Math.exp(1 + Math.sin(step) / 2), "grad_norm/fc1": step / 1000 },
    };
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`external runs on ${backend.name}`, () => {
    let db: Db;
    let ext: ExternalRuns;
    const batches = new Broadcaster<BatchChunkEvent>();
    const events = new Broadcaster<RunEvent>();
    const changes = new Broadcaster<RunsChangedEvent>();

    beforeAll(async () => {
      db = await openDatabase(await backend.newUrl());
      ext = new ExternalRuns({ db, buses: { batches, events, changes }, limits: LIMITS });
    });
    afterAll(async () => {
      ext.close();
      await db.close();
      await backend.stop();
    });

    it("creates an EXTERNAL run, RUNNING, with no model or dataset", async () => {
      const run = await ext.create({ name: "ex1", tags: ["pytorch"], config: { lr: 0.01 } });
      expect(run.kind).toBe(RunKind.EXTERNAL);
      expect(run.status).toBe(RunStatus.RUNNING);
      expect([run.modelId, run.datasetId]).toEqual([null, null]);
      expect(run.hyperparameters).toEqual({ lr: 0.01 });
    });

    it("averages each built-in metric over the steps that logged it, from rollups as from raw rows", async () => {
      const run = await ext.create({ name: "sparse" });
      const rows = logRows(0, 1000);
      // Any grouping and order: the second half first, then the first half in two calls.
      await ext.log(run.id, rows.slice(500));
      await ext.log(run.id, rows.slice(0, 250));
      await ext.log(run.id, rows.slice(250, 500));
      const h = await db.history(run.id, { metrics: ["loss", "accuracy", "lr"], maxPoints: 10 });
      expect(h.sourceLevel).toBe(100);
      expect(h.buckets).toHaveLength(10);
      for (const b of h.buckets) {
        const inB = rows.filter((r) => r.step >= b.firstStep && r.step <= b.lastStep);
        const acc = inB.flatMap((r) => (r.accuracy == null ? [] : [r.accuracy]));
        expect(b.count).toBe(100);
        expect(b.values.loss?.mean).toBeCloseTo(mean(inB.map((r) => r.loss as number)), 10);
        expect(b.values.accuracy?.mean).toBeCloseTo(mean(acc), 10);
        expect(b.values.accuracy?.max).toBe(Math.max(...acc));
        expect(b.values.lr).toBeUndefined();
      }
      // A narrow range is answered from raw rows: the same means.
      const raw = await db.history(run.id, { metrics: ["accuracy"], fromStep: 3, toStep: 8, maxPoints: 1 });
      expect(raw.sourceLevel).toBe(1);
      expect(raw.buckets[0].values.accuracy?.mean).toBeCloseTo(mean([4 / 7, 6 / 7, 1 / 7]), 12);
      const stored = await db.getRun(run.id);
      expect([stored?.stepsCompleted, stored?.lastStep]).toEqual([1000, 999]);
    });

    it("downsamples custom metrics by name and returns them on batch rows", async () => {
      const run = await ext.create({ name: "custom" });
      const rows = logRows(0, 1000);
      await ext.log(run.id, rows);
      expect(await db.customMetricNames(run.id)).toEqual(["grad_norm/fc1", "perplexity"]);
      const h = await db.history(run.id, { metrics: [], custom: ["grad_norm/fc1"], maxPoints: 5 });
      expect(h.sourceLevel).toBe(100);
      expect(h.buckets.map((b) => [b.firstStep, b.lastStep])).toEqual([
        [0, 199],
        [200, 399],
        [400, 599],
        [600, 799],
        [800, 999],
      ]);
      h.buckets.forEach((b, i) => {
        const values = rows
          .slice(i * 200, (i + 1) * 200)
          .map((r) => (r.custom as Record<string, number>)["grad_norm/fc1"]);
        expect(b.custom["grad_norm/fc1"].mean).toBeCloseTo(mean(values), 12);
        expect(b.custom["grad_norm/fc1"].min).toBe(Math.min(...values));
        expect(b.custom["grad_norm/fc1"].max).toBe(Math.max(...values));
        expect(Object.keys(b.custom)).toEqual(["grad_norm/fc1"]);
      });
      const page = await db.batchMetricsPage(run.id, 4, 2);
      expect(page.rows.map((r) => [r.step, r.custom])).toEqual([
        [5, { "grad_norm/fc1": 0.005, perplexity: Math.exp(1 + Math.sin(5) / 2) }],
        [6, { "grad_norm/fc1": 0.006, perplexity: Math.exp(1 + Math.sin(6) / 2) }],
      ]);
    });

    it("ignores a step sent again with the same values and refuses other values naming the step, storing nothing of that call", async () => {
      const run = await ext.create({ name: "idempotent" });
      const rows = logRows(0, 20);
      expect(await ext.log(run.id, rows.slice(0, 10))).toEqual({ stored: 10, ignored: 0, lastStep: 9 });
      expect(await ext.log(run.id, rows.slice(5, 15))).toEqual({ stored: 5, ignored: 5, lastStep: 14 });
      const changed = [{ ...rows[3], loss: 9 }, rows[15]];
      await expect(ext.log(run.id, changed)).rejects.toThrow(
        "step 3 is already stored with a different loss (stored 1.0705600040299337, sent 9); a step's values cannot change",
      );
      const customChanged = [{ ...rows[4], custom: { perplexity: 1 } }];
      await expect(ext.log(run.id, customChanged)).rejects.toThrow(
        /step 4 is already stored with a different custom\./,
      );
      const after = await db.getRun(run.id);
      expect([after?.stepsCompleted, after?.lastStep]).toEqual([15, 14]);
      expect((await db.batchMetricsPage(run.id, -1, 100)).rows.map((r) => r.step)).toEqual(
        Array.from({ length: 15 }, (_, i) => i),
      );
    });

    it("refuses non-finite values, bad names, oversized calls and too many custom names, naming what is wrong", async () => {
      const run = await ext.create({ name: "bad input" });
      const bad = async (rows: LogRow[]) => {
        try {
          await ext.log(run.id, rows);
        } catch (err) {
          if (err instanceof ValidationError) return [err.field, err.message];
          throw err;
        }
        throw new Error("accepted");
      };
      expect(await bad([{ step: 7, loss: Number.NaN }])).toEqual([
        "loss",
        "step 7: loss = NaN; a finite number is required",
      ]);
      expect(await bad([{ step: 8, custom: { lr: Number.POSITIVE_INFINITY } }])).toEqual([
        "custom.lr",
        "step 8: custom.lr = Infinity; a finite number is required",
      ]);
      expect((await bad([{ step: 1, custom: { "bad name": 1 } }]))[1]).toContain(
        'custom metric name "bad name" is not accepted: 1 to 20 characters (MAX_METRIC_NAME_LENGTH)',
      );
      expect(await bad([{ step: -1 }])).toEqual([
        "rows[0].step",
        "rows[0].step = -1; an integer from 0 to 2147483647 is required",
      ]);
      expect((await bad(logRows(0, 2001)))[1]).toBe(
        "2001 rows in one call; at most 2000 (MAX_LOG_ROWS): send them in several calls",
      );
      expect((await bad([{ step: 1, custom: { a: 1, b: 2, c: 3, d: 4 } }]))[1]).toBe(
        `run ${run.id} would have 4 custom metrics; at most 3 (MAX_CUSTOM_METRICS)`,
      );
      expect(
        await bad([
          { step: 2, loss: 1 },
          { step: 2, loss: 2 },
        ]),
      ).toEqual([
        "rows[1].loss",
        "step 2 appears twice in this call with different loss; send each step once",
      ]);
      const after = await db.getRun(run.id);
      expect([after?.stepsCompleted, after?.lastStep]).toEqual([0, null]);
    });

    it("interrupts a run silent for EXTERNAL_IDLE_MS and takes it up again when it logs", async () => {
      const run = await ext.create({ name: "idle" });
      await ext.log(run.id, logRows(0, 5));
      const status = events.subscribe(`events:${run.id}`);
      expect(await ext.sweepIdle(Date.now())).not.toContain(run.id);
      expect(await ext.sweepIdle(Date.now() + LIMITS.idleMs + 1_000)).toContain(run.id);
      expect((await db.getRun(run.id))?.status).toBe(RunStatus.INTERRUPTED);
      expect((await status.next()).value).toMatchObject({ kind: "status", status: RunStatus.INTERRUPTED });
      await ext.log(run.id, logRows(5, 5));
      expect((await status.next()).value).toMatchObject({ kind: "status", status: RunStatus.RUNNING });
      const again = await db.getRun(run.id);
      expect([again?.status, again?.stepsCompleted]).toEqual([RunStatus.RUNNING, 10]);
      await status.return?.();
    });

    it("publishes only the new rows, then a final chunk when the run finishes; a finished run takes no more rows", async () => {
      const run = await ext.create({ name: "finish" });
      const live = batches.subscribe(`batches:${run.id}`);
      await ext.log(run.id, logRows(0, 3));
      await ext.log(run.id, logRows(2, 3));
      const done = await ext.finish(run.id, RunStatus.FAILED, "exit code 1: Traceback …");
      expect([done.status, done.errorMessage]).toEqual([RunStatus.FAILED, "exit code 1: Traceback …"]);
      const got: BatchChunkEvent[] = [];
      for (let i = 0; i < 3; i++) got.push((await live.next()).value);
      expect(got.map((c) => [c.rows.map((r) => r.step), c.lastStep, c.final])).toEqual([
        [[0, 1, 2], 2, false],
        [[3, 4], 4, false],
        [[], 4, true],
      ]);
      expect((await ext.finish(run.id, RunStatus.FAILED, "again")).errorMessage).toBe(
        "exit code 1: Traceback …",
      );
      await expect(ext.finish(run.id, RunStatus.COMPLETED, null)).rejects.toThrow(
        `run ${run.id} already finished FAILED; it cannot become COMPLETED`,
      );
      await expect(ext.log(run.id, logRows(5, 1))).rejects.toThrow(
        `run ${run.id} is FAILED; a finished run accepts no more metrics (create a new run)`,
      );
      await live.return?.();
    });
  });
}
