// The "Why does the loss fluctuate?" panel in Chromium (playwright-core, real server): stacked shares,
// the clean trend over the raw batch loss, B_noise against the batch size, and the server's sentence.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gqlData } from "../helpers/gql.ts";
import { launchBrowser, startServer, type TestServer } from "./harness.ts";

let server: TestServer;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let page: Page;
const pageErrors: string[] = [];

// window.__gradstream is typed by dashboard.test.ts's global declaration (public/js/app.js's hook).

/** GraphQL over HTTP from outside the page (another client of the same server). */
const gql = <T>(query: string, variables: Record<string, unknown> = {}) =>
  gqlData<T>(`${server.origin}/graphql`, query, variables);

beforeAll(async () => {
  server = await startServer();
  ({ browser, close: closeBrowser } = await launchBrowser());
  page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
  page.on("pageerror", (e) => pageErrors.push(e.message));
});
afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

describe("the noise panel in Chromium", () => {
  it("shows the decomposition, the clean trend over the batch loss and B_noise beside the batch size, with a sentence saying learning continues", async () => {
    const { models } = await gql<{ models: { nodes: { id: string; name: string }[] } }>(
      "{ models { nodes { id name } } }",
    );
    const linear = models.nodes.find((m) => m.name === "linear")?.id;
    const { startRun } = await gql<{ startRun: { id: string; databaseId: number } }>(
      `mutation ($model: ID!) { startRun(input: { model: $model, datasetSpec: "batch-size-blobs", batchSize: 10,
        epochs: 1, optimizer: { kind: SGD, lr: 0.1 }, noise: { every: 10, gradBatches: 8 } }) { ... on Run { id databaseId } } }`,
      { model: linear },
    );
    await page.goto(`${server.origin}/#/runs/${startRun.databaseId}`);
    await page.waitForFunction(() => window.__gradstream?.final === true, null, { timeout: 60_000 });
    // the panel refreshes every 2 s while the run is active, and once more when the page loads after it
    await page.reload();
    const sentence = page.locator(".noise-sentence");
    await expect.poll(() => sentence.textContent(), { timeout: 20_000 }).toContain("learning continues");
    expect(await sentence.textContent()).toMatch(/B_noise ≈ \d+/);
    const drawn = await page.evaluate(() => {
      const c = window.__gradstream.charts;
      return { shares: c.noiseShares.data, trend: c.noiseTrend.data, scale: c.noiseScale.data };
    });
    // probes after steps 9, 19, …, 99 (the first one's drift is measured from a probe before step 0)
    expect(drawn.shares[0]).toEqual([9, 19, 29, 39, 49, 59, 69, 79, 89, 99]);
    for (const top of drawn.shares[3]) expect(top).toBeCloseTo(1, 9);
    // the clean trend is drawn on the batch loss's steps: 100 raw points, 10 of them probed
    expect(drawn.trend[0].length).toBe(100);
    const clean = drawn.trend[2].filter((v) => v !== null && v !== undefined) as number[];
    expect(clean.length).toBe(10);
    expect(clean[9]).toBeLessThan(clean[0]);
    expect(new Set(drawn.scale[2])).toEqual(new Set([10]));
    expect(drawn.scale[1].every((b) => typeof b === "number" && b > 0)).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
