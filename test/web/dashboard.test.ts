// The dashboard in a real browser (Debian's Chromium via playwright-core) against the real server on a
// free port with a temporary SQLite file. Screenshots go to .artifacts/web/.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gqlData } from "../helpers/gql.ts";
import { ARTIFACTS, launchBrowser, seedLongRun, startServer, type TestServer } from "./harness.ts";

let server: TestServer;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let page: Page;
const pageErrors: string[] = [];

/** What the page exposes on window.__gradstream (see public/js/app.js). */
interface Hook {
  final: boolean;
  charts: Record<
    string,
    {
      data: (number | null | undefined)[][];
      u: { scales: { x: { min: number; max: number } }; series: { idxs?: [number, number] }[] };
    }
  >;
  run: {
    id: string;
    store: {
      steps: number[];
      lastStep: number;
      streamFrom: number | null;
      mode: string;
      overview: { x: number[] };
    };
  };
  dropConnection(): void;
}
declare global {
  interface Window {
    __gradstream: Hook;
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function shot(name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** GraphQL over HTTP from outside the page (another client of the same server). */
const gql = <T>(query: string, variables: Record<string, unknown> = {}) =>
  gqlData<T>(`${server.origin}/graphql`, query, variables);

async function waitFinal() {
  await page.waitForFunction(() => window.__gradstream?.final === true, null, { timeout: 60_000 });
}

beforeAll(async () => {
  server = await startServer();
  ({ browser, close: closeBrowser } = await launchBrowser());
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page.on("pageerror", (e) => pageErrors.push(e.message));
});
afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

describe("the dashboard in Chromium", () => {
  it("starts the linear experiment from the page and its loss chart receives all 100 steps, once each", async () => {
    await page.goto(`${server.origin}/`);
    await page.click('[data-experiment="linear"]');
    await page.waitForURL(/#\/runs\/\d+$/);
    await waitFinal();
    const { steps, xs, accXs } = await page.evaluate(() => ({
      steps: window.__gradstream.run.store.steps,
      xs: window.__gradstream.charts.loss.data[0],
      accXs: window.__gradstream.charts.accuracy.data[0],
    }));
    expect(steps).toEqual(range(100));
    expect(xs).toEqual(range(100));
    expect(accXs).toEqual(range(100));
    // The 10 epochs' summaries reach the epoch chart.
    await page.waitForFunction(() => window.__gradstream.charts.epochLoss.data[0].length === 10);
    await expect(page.locator(".run-head .badge").textContent()).resolves.toBe("completed");
    // The header names the provider and the onnxruntime thread count the run trained on.
    const runId = await page.evaluate(() => window.__gradstream.run.id);
    const { run } = await gql<{ run: { threads: number } }>(
      "query ($id: ID!) { run(id: $id) { ... on Run { threads } } }",
      { id: runId },
    );
    expect(run.threads).toBeGreaterThanOrEqual(1);
    await page.waitForSelector(`text=CPU · ${run.threads} thread`);
    await shot("run-linear");
    expect(pageErrors).toEqual([]);
  });

  it("downloads the trained model as an ONNX file from the run page", async () => {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click('[data-action="export"]'),
    ]);
    const path = await download.path();
    const bytes = readFileSync(path);
    expect(download.suggestedFilename()).toMatch(/^run-\d+\.onnx$/);
    // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
    expect(bytes[0]).toBe(0x08);
    expect(bytes.byteLength).toBeGreaterThan(100);
  });

  it("applies TensorBoard's debiased EMA when the smoothing slider moves, over the unchanged raw series", async () => {
    const drawn = () =>
      page.evaluate(() => {
        const d = window.__gradstream.charts.loss.data;
        return { raw: d[1] as number[], smoothed: d[2] as number[] };
      });
    await page.locator("#smoothing").fill("0");
    const off = await drawn();
    expect(off.smoothed).toEqual(off.raw);
    await page.locator("#smoothing").fill("0.9");
    const on = await drawn();
    expect(on.raw).toEqual(off.raw);
    expect(on.smoothed).not.toEqual(on.raw);
    // Debiased: the first smoothed point is the first raw point, not pulled toward 0.
    expect(on.smoothed[0]).toBeCloseTo(on.raw[0], 12);
    // smoothed_t = last_t / (1 − 0.9^t) with last_t = 0.9·last_{t−1} + 0.1·y_t.
    let last = 0;
    const expected = on.raw.map((y, i) => {
      last = 0.9 * last + 0.1 * y;
      return last / (1 - 0.9 ** (i + 1));
    });
    for (const [i, v] of on.smoothed.entries()) expect(v).toBeCloseTo(expected[i], 9);
    const spread = (ys: number[]) => Math.max(...ys) - Math.min(...ys);
    expect(spread(on.smoothed)).toBeLessThan(spread(on.raw));
    await shot("run-linear-smoothed");
  });

  it("reloads mid-run and after a dropped connection still holds every step exactly once", async () => {
    await page.goto(`${server.origin}/`);
    const form = page.locator("#start-form");
    await form.locator('select[name="model"]').selectOption({ label: "linear (22 params)" });
    await form.locator('select[name="dataset"]').selectOption({ index: 1 }); // batch-size: 1,000 samples
    await form.locator('input[name="batchSize"]').fill("1");
    await form.locator('input[name="epochs"]').fill("6");
    await form.locator('input[name="k"]').fill("1");
    await form.locator('input[name="name"]').fill("long");
    await form.locator('button[type="submit"]').click();
    await page.waitForURL(/#\/runs\/\d+$/);
    const total = 6_000;
    await page.waitForFunction(() => (window.__gradstream.run?.store.steps.length ?? 0) > 300);
    await shot("run-live");
    const before = await page.evaluate(() => window.__gradstream.run.store.lastStep);
    expect(before).toBeLessThan(total - 1);
    await page.reload();
    await page.waitForFunction(
      (after) => (window.__gradstream.run?.store.lastStep ?? -1) > after,
      before + 500,
    );
    const beforeDrop = await page.evaluate(() => window.__gradstream.run.store.lastStep);
    expect(beforeDrop).toBeLessThan(total - 1);
    await page.evaluate(() => window.__gradstream.dropConnection());
    await waitFinal();
    const { steps, xs } = await page.evaluate(() => ({
      steps: window.__gradstream.run.store.steps,
      xs: window.__gradstream.charts.loss.data[0],
    }));
    expect(steps.length).toBe(total);
    expect(steps).toEqual(range(total));
    expect(xs).toEqual(range(total));
    expect(pageErrors).toEqual([]);
  });

  it("overlays the batch-size experiment's two runs on the compare page", async () => {
    await page.goto(`${server.origin}/`);
    await page.click('[data-experiment="batch-size"]');
    await page.waitForURL(/#\/compare\?ids=\d+,\d+$/);
    await page.waitForFunction(
      () =>
        document.querySelectorAll("#compare-summary tr .badge").length === 2 &&
        [...document.querySelectorAll("#compare-summary tr .badge")].every(
          (b) => b.textContent === "completed",
        ),
      null,
      { timeout: 60_000 },
    );
    const counts = await page.evaluate(() => {
      const d = window.__gradstream.charts.compareLoss.data;
      // [x, run A raw, run A smoothed, run B raw, run B smoothed]
      return d.slice(1).map((ys) => ys.filter((v) => v !== null && v !== undefined).length);
    });
    expect(counts.sort((a, b) => a - b)).toEqual([10, 10, 100, 100]);
    const cv = await page.locator("#compare-summary tbody tr").evaluateAll((rows) =>
      Object.fromEntries(
        rows.map((r) => {
          const td = r.querySelectorAll("td");
          return [/bs (\d+)/.exec(td[2].textContent ?? "")?.[1], Number(td[5].textContent)];
        }),
      ),
    );
    // Batch 10's loss fluctuates more than batch 100's: the point of example 2.
    expect(cv["10"]).toBeGreaterThan(cv["100"]);
    await shot("compare-batch-size");
    await page.goto(`${server.origin}/`);
    await page.waitForSelector("#runs tbody tr");
    await shot("runs");
    expect(pageErrors).toEqual([]);
  });

  it("draws a 1,000,000-step run from 1,000 history buckets and refines the zoomed range from the server", async () => {
    const id = await seedLongRun(server.app, 1_000_000);
    await page.goto(`${server.origin}/#/runs/${id}`);
    await waitFinal();
    await page.waitForFunction(() => window.__gradstream.charts.loss.data[0].length > 0);
    const overview = await page.evaluate(() => ({
      mode: window.__gradstream.run.store.mode,
      xs: window.__gradstream.charts.loss.data[0] as number[],
    }));
    expect(overview.mode).toBe("sampled");
    expect(overview.xs.length).toBe(1000);
    // Bucket midpoints on the 1,000-step grid.
    expect(overview.xs[0]).toBe(499.5);
    expect(overview.xs[999]).toBe(999_499.5);
    await shot("run-million");

    // Drag across 40%–45% of the plot: the charts zoom and the history query fills the range finely.
    const over = page.locator(".chart-card .u-over").first();
    const box = await over.boundingBox();
    if (!box) throw new Error("loss chart has no plot area");
    const y = box.y + box.height / 2;
    const t0 = Date.now();
    await page.mouse.move(box.x + box.width * 0.4, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.45, y, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction(() => {
      const c = window.__gradstream.charts.loss;
      const { min, max } = c.u.scales.x;
      return (c.data[0] as number[]).filter((x) => x >= min && x <= max).length > 500;
    });
    const zoomMs = Date.now() - t0;
    const zoomed = await page.evaluate(() => {
      const c = window.__gradstream.charts.loss;
      const { min, max } = c.u.scales.x;
      const inView = (c.data[0] as number[]).filter((x) => x >= min && x <= max);
      return {
        min,
        max,
        inView: inView.length,
        total: c.data[0].length,
        // The index window uPlot draws: it must cover the refined points, not the old overview's.
        drawn: (c.u.series[1].idxs?.[1] ?? 0) - (c.u.series[1].idxs?.[0] ?? 0) + 1,
        accMin: window.__gradstream.charts.accuracy.u.scales.x.min,
      };
    });
    // The view is about 5% of the run (~50,000 steps) and the other charts follow the zoom.
    expect(zoomed.max - zoomed.min).toBeGreaterThan(30_000);
    expect(zoomed.max - zoomed.min).toBeLessThan(80_000);
    expect(zoomed.accMin).toBe(zoomed.min);
    // Still a few thousand points at most in the chart, whatever the run's length.
    expect(zoomed.total).toBeLessThan(3000);
    expect(zoomed.drawn).toBeGreaterThanOrEqual(zoomed.inView);
    // The fluctuation panel follows the zoom too.
    await page.waitForFunction(() => {
      const { min, max } = window.__gradstream.charts.loss.u.scales.x;
      const xs = window.__gradstream.charts.cv.data[0] as number[];
      return xs.length > 0 && xs[0] >= min - 100 && xs[xs.length - 1] <= max + 100;
    });
    await page.waitForSelector('.span-note:text("the zoomed range")');
    console.log(JSON.stringify({ bench: "dashboard-zoom-refine", steps: 1_000_000, ...zoomed, zoomMs }));
    await shot("run-million-zoomed");
    expect(pageErrors).toEqual([]);
  });

  it("follows a live run too long to hold raw as history buckets plus a raw tail, every step once", async () => {
    const total = 25_000;
    const data = await gql<{ startRun: { databaseId: number } }>(
      `mutation { startRun(input: { model: "2", dataset: "2", batchSize: 1, epochs: 25, k: 100, name: "long-live",
         optimizer: { kind: SGD, lr: 0.01 } }) { ... on Run { databaseId } } }`,
    );
    await page.goto(`${server.origin}/#/runs/${data.startRun.databaseId}`);
    await waitFinal();
    // The last chunk's redraw lands on the next animation frame.
    await page.waitForFunction((last) => {
      const xs = window.__gradstream.charts.loss.data[0] as number[];
      return xs[xs.length - 1] === last;
    }, total - 1);
    const seen = await page.evaluate(() => {
      const g = window.__gradstream;
      const xs = g.charts.loss.data[0] as number[];
      return {
        mode: g.run.store.mode,
        steps: g.run.store.steps,
        streamFrom: g.run.store.streamFrom,
        overview: g.run.store.overview.x.length,
        points: xs.length,
        ascending: xs.every((x, i) => i === 0 || x > xs[i - 1]),
      };
    });
    expect(seen.mode).toBe("sampled");
    // The page starts from the history overview of what the run has stored when it opens (possibly
    // some chunks already) and streams every later step exactly once, in order.
    const from = seen.streamFrom;
    if (from === null) throw new Error("the page never started its batch stream");
    expect(from).toBeGreaterThanOrEqual(-1);
    expect(seen.steps).toEqual(range(total).slice(from + 1));
    // Followed live for long enough that the raw tail outgrew its limit and was folded on the way.
    expect(total - 1 - from).toBeGreaterThan(4_000);
    // The tail was folded into the overview on the way: the chart holds far fewer points than steps.
    expect(seen.overview).toBeGreaterThan(0);
    expect(seen.points).toBeLessThan(6_000);
    expect(seen.ascending).toBe(true);
  });

  it("lists a run started by another client and follows it to completed without a reload", async () => {
    await page.goto(`${server.origin}/`);
    await page.waitForSelector("#runs tbody tr");
    const data = await gql<{ startExperiment: { runs: { id: string; databaseId: number }[] } }>(
      'mutation { startExperiment(name: "linear-blobs") { ... on ExperimentStart { runs { id databaseId } } } }',
    );
    const { id, databaseId } = data.startExperiment.runs[0];
    await page.waitForSelector(`#runs tr[data-run-id="${id}"][data-status="COMPLETED"]`, { timeout: 60_000 });
    const text = await page.locator(`#runs tr[data-run-id="${id}"]`).textContent();
    expect(text).toContain(`#${databaseId} linear-blobs`);
    expect(text).toContain("completed");
  });

  it("cancels a running run from its page and resumes it, streaming on with every step exactly once", async () => {
    const total = 4_000;
    const data = await gql<{ startRun: { databaseId: number } }>(
      `mutation { startRun(input: { model: "2", dataset: "2", batchSize: 1, epochs: 4, k: 1, name: "cancel-me",
         optimizer: { kind: SGD, lr: 0.01 } }) { ... on Run { databaseId } } }`,
    );
    await page.goto(`${server.origin}/#/runs/${data.startRun.databaseId}`);
    await page.waitForFunction(() => (window.__gradstream.run?.store.steps.length ?? 0) > 200);
    await page.click('[data-action="cancel"]');
    await page.waitForSelector('.run-head .badge:text("cancelled")', { timeout: 30_000 });
    await waitFinal();
    const atCancel = await page.evaluate(() => window.__gradstream.run.store.lastStep);
    expect(atCancel).toBeLessThan(total - 1);
    await page.click('[data-action="resume"]');
    await page.waitForSelector('.run-head .badge:text("completed")', { timeout: 60_000 });
    await waitFinal();
    const steps = await page.evaluate(() => window.__gradstream.run.store.steps);
    expect(steps).toEqual(range(total));
  });

  it("deletes a run from the list after confirmation", async () => {
    const data = await gql<{ startExperiment: { runs: { id: string }[] } }>(
      'mutation { startExperiment(name: "linear") { ... on ExperimentStart { runs { id } } } }',
    );
    const id = data.startExperiment.runs[0].id;
    await page.goto(`${server.origin}/`);
    const row = page.locator(`#runs tr[data-run-id="${id}"]`);
    await page.waitForSelector(`#runs tr[data-run-id="${id}"][data-status="COMPLETED"]`, { timeout: 60_000 });
    page.once("dialog", (d) => void d.accept());
    await row.locator('[data-action="delete"]').click();
    await row.waitFor({ state: "detached" });
    const after = await gql<{ run: null }>(`{ run(id: "${id}") { __typename } }`);
    expect(after.run).toBeNull();
  });

  it("uploads an ONNX model from the runs page and offers it in the start form", async () => {
    await page.goto(`${server.origin}/`);
    const upload = page.locator("#upload-form");
    await upload
      .locator('input[type="file"]')
      .setInputFiles(join(import.meta.dirname, "../../models/linear.onnx"));
    await upload.locator('input[name="modelName"]').fill("uploaded-linear");
    await upload.locator('button[type="submit"]').click();
    await page.waitForSelector('#start-form select[name="model"] option:text-matches("^uploaded-linear")', {
      state: "attached",
    });
    const options = await page.locator('#start-form select[name="model"] option').allTextContents();
    expect(options).toContain("uploaded-linear (22 params)");
    await shot("runs-after-upload");
    expect(pageErrors).toEqual([]);
  });
});
