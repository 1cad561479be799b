// Seed bands and the system panel in the dashboard (Chromium via playwright-core, real server, real
// training): example 2 over 3 seeds per batch size drawn as two shaded bands whose edges are the API's
// mean ± std, and a trained run's system panel charting CPU, memory and samples/s per chunk.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gqlData } from "../helpers/gql.ts";
import { launchBrowser, startServer, type TestServer } from "./harness.ts";

let server: TestServer;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let page: Page;
const pageErrors: string[] = [];
let runIds: string[] = [];
let runNumbers: number[] = [];

// window.__gradstream is typed by dashboard.test.ts's global declaration (public/js/app.js's hook).

const gql = <T>(query: string, variables: Record<string, unknown> = {}) =>
  gqlData<T>(`${server.origin}/graphql`, query, variables);

beforeAll(async () => {
  server = await startServer({ MAX_CONCURRENT_RUNS: "2" });
  ({ browser, close: closeBrowser } = await launchBrowser());
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const { models } = await gql<{ models: { nodes: { id: string; name: string }[] } }>(
    "{ models { nodes { id name } } }",
  );
  const started = await gql<{ startSweep: { runs: { nodes: { id: string; databaseId: number }[] } } }>(
    `mutation($model: ID!) { startSweep(input: { model: $model, datasetSpec: "batch-size",
      base: { epochs: 1, k: 10 }, strategy: GRID, space: { batchSize: [10, 100] }, seeds: 3 }) {
      ... on Sweep { runs { nodes { id databaseId } } } } }`,
    { model: models.nodes.find((m) => m.name === "linear")?.id },
  );
  runIds = started.startSweep.runs.nodes.map((r) => r.id);
  runNumbers = started.startSweep.runs.nodes.map((r) => r.databaseId);
  for (;;) {
    const { runs } = await gql<{ runs: { edges: { node: { status: string } }[] } }>(
      "{ runs(first: 100, filter: { status: [COMPLETED] }) { edges { node { status } } } }",
    );
    if (runs.edges.length >= runIds.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
}, 120_000);
afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

describe("seed bands and the system panel", () => {
  it("draws each batch size's seed group as a band whose edges are the API's mean ± std", async () => {
    await page.goto(`${server.origin}/#/compare?ids=${runNumbers.join(",")}`);
    await page.locator('input[name="bands"]').check();
    await page.waitForFunction(
      () => document.querySelector("#compare-bands")?.getAttribute("data-groups") === "2",
    );
    const drawn = await page.evaluate(() => {
      const c = window.__gradstream.charts.bandsLoss as unknown as {
        data: (number | null)[][];
        u: { bands: { series: [number, number] }[] };
      };
      return { data: c.data, bands: c.u.bands.map((b) => b.series) };
    });
    expect(drawn.bands).toEqual([
      [1, 2],
      [4, 5],
    ]);
    const api = await gql<{
      compareRuns: {
        group: { setting: { batchSize: number }; points: { progress: number; mean: number; std: number }[] };
      }[];
    }>(
      `query($ids: [ID!]!) { compareRuns(ids: $ids, metric: LOSS, maxPoints: 1000, groupBy: SEED, smoothing: 0.6) {
        group { setting points { progress mean std } } } }`,
      { ids: runIds },
    );
    const small = api.compareRuns[0].group;
    expect(small.setting).toMatchObject({ batchSize: 10 });
    // The x axis is the fraction of training; the batch-10 group's upper and lower edges at each of its points.
    const xs = drawn.data[0] as number[];
    for (const p of small.points) {
      const i = xs.indexOf(p.progress);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(drawn.data[1][i]).toBeCloseTo(p.mean + p.std, 12);
      expect(drawn.data[2][i]).toBeCloseTo(p.mean - p.std, 12);
    }
    // The batch-10 band is the wider one on the page too.
    const width = (hi: number, lo: number) => {
      const w = xs
        .map((_, i) => (drawn.data[hi][i] ?? Number.NaN) - (drawn.data[lo][i] ?? Number.NaN))
        .filter(Number.isFinite);
      return w.reduce((a, b) => a + b, 0) / w.length;
    };
    expect(width(1, 2)).toBeGreaterThan(width(4, 5));
    expect(pageErrors).toEqual([]);
  });

  it("shows a trained run's system panel: CPU cores busy, resident memory and samples/s per chunk", async () => {
    await page.goto(`${server.origin}/#/runs/${runNumbers[0]}`);
    await page.waitForFunction(
      () => Number(document.querySelector("#system-panel")?.getAttribute("data-points") ?? 0) > 0,
    );
    const charts = await page.evaluate(() =>
      ["systemCpu", "systemRss", "systemThroughput"].map((k) => window.__gradstream.charts[k].data),
    );
    const { run } = await gql<{
      run: { systemMetrics: { cpuUtilization: number; rssBytes: number; samplesPerSec: number }[] };
    }>(
      `query($id: ID!) { run(id: $id) { ... on Run { systemMetrics { cpuUtilization rssBytes samplesPerSec } } } }`,
      { id: runIds[0] },
    );
    expect(charts[0][1]).toEqual(run.systemMetrics.map((r) => r.cpuUtilization));
    expect(charts[1][1]).toEqual(run.systemMetrics.map((r) => r.rssBytes / 2 ** 20));
    expect(charts[2][1]).toEqual(run.systemMetrics.map((r) => r.samplesPerSec));
    // Wall-clock seconds on the x axis, increasing.
    const xs = charts[0][0] as number[];
    for (let i = 1; i < xs.length; i++) expect(xs[i]).toBeGreaterThan(xs[i - 1]);
    expect(pageErrors).toEqual([]);
  });
});
