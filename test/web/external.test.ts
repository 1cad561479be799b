// An EXTERNAL run in the dashboard (Chromium via playwright-core, real server): marked in the run
// list, with the same loss/accuracy charts and fluctuation panel, and its custom metrics selectable.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gqlData } from "../helpers/gql.ts";
import { launchBrowser, startServer, type TestServer } from "./harness.ts";

let server: TestServer;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let page: Page;
const pageErrors: string[] = [];
let runId = "";

// window.__gradstream is typed by dashboard.test.ts's global declaration (public/js/app.js's hook).

/** GraphQL over HTTP from outside the page (another client of the same server). */
const gql = <T>(query: string, variables: Record<string, unknown> = {}) =>
  gqlData<T>(`${server.origin}/graphql`, query, variables);

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

beforeAll(async () => {
  server = await startServer();
  ({ browser, close: closeBrowser } = await launchBrowser());
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const created = await gql<{ createRun: { id: string } }>(
    `mutation { createRun(input: { name: "pytorch loop" }) { ... on Run { id } } }`,
  );
  runId = created.createRun.id;
  const rows = range(60).map((step) => ({
    step,
    epoch: Math.floor(step / 30),
    loss: 0.7 + Math.sin(step) / 10,
    accuracy: (step % 4) / 4,
    custom: { perplexity: 2 + step / 100, "grad_norm/fc1": step / 60 },
  }));
  await gql(
    `mutation($id: ID!, $rows: [MetricRowInput!]!) { logMetrics(runId: $id, rows: $rows) { __typename } }`,
    {
      id: runId,
      rows,
    },
  );
  await gql(`mutation($id: ID!) { finishRun(runId: $id, status: COMPLETED) { __typename } }`, { id: runId });
});
afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

describe("an EXTERNAL run in the dashboard", () => {
  it("is marked external in the run list, without a Resume action", async () => {
    await page.goto(`${server.origin}/`);
    const row = page.locator(`tr[data-run-id="${runId}"]`);
    await row.waitFor();
    await expect(row.locator(".badge.external").textContent()).resolves.toBe("external");
    await expect(row.locator('[data-action="resume"]').count()).resolves.toBe(0);
  });

  it("draws the same loss and accuracy charts and fluctuation panel, and charts a custom metric picked by name", async () => {
    await page.goto(`${server.origin}/#/runs/${runId}`);
    await page.waitForFunction(() => window.__gradstream?.final === true, null, { timeout: 60_000 });
    const xs = await page.evaluate(() => [
      window.__gradstream.charts.loss.data[0],
      window.__gradstream.charts.accuracy.data[0],
    ]);
    expect(xs).toEqual([range(60), range(60)]);
    await page.waitForFunction(() => (window.__gradstream.charts.cv?.data[0]?.length ?? 0) > 0);
    await expect(page.locator("select[name=customMetric] option").allTextContents()).resolves.toEqual([
      "grad_norm/fc1",
      "perplexity",
    ]);
    await page.waitForFunction(() => window.__gradstream.charts.custom?.data[0]?.length === 60);
    const first = await page.evaluate(() => window.__gradstream.charts.custom.data[1][59]);
    expect(first).toBeCloseTo(59 / 60, 12);
    await page.selectOption("select[name=customMetric]", "perplexity");
    await page.waitForFunction(() => window.__gradstream.charts.custom.data[1][59] === 2.59);
    await expect(page.locator(".run-head").textContent()).resolves.toContain("external trainer");
    expect(pageErrors).toEqual([]);
  });
});
