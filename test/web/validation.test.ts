// The run page draws every evaluation against its step (every validation.everySteps steps and each
// epoch end), from Run.validationMetrics and the live RunValidationEvent: real Chromium, real server.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, startServer, type TestServer } from "./harness.ts";

let server: TestServer;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let page: Page;
const pageErrors: string[] = [];

type Charts = { __gradstream: { final: boolean; charts: Record<string, { data: number[][] }> } };

async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${server.origin}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join("; "));
  return body.data;
}

beforeAll(async () => {
  server = await startServer();
  ({ browser, close: closeBrowser } = await launchBrowser());
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => pageErrors.push(e.message));
});
afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

describe("validation by step in the dashboard", () => {
  it("draws each evaluation at its step, epoch ends included, with the stored loss and accuracy", async () => {
    const { models } = await gql<{ models: { nodes: { id: string; name: string }[] } }>(
      "{ models { nodes { id name } } }",
    );
    const model = models.nodes.find((x) => x.name === "linear")!.id;
    const { startRun } = await gql<{ startRun: { id: string; databaseId: number } }>(
      `mutation ($model: ID!) { startRun(input: { model: $model, datasetSpec: "blobs:samples=500,shape=10,classes=2",
        batchSize: 10, epochs: 2, k: 1, validation: { fraction: 0.2, everySteps: 15 } }) { ... on Run { id databaseId } } }`,
      { model },
    );
    await page.goto(`${server.origin}/#/runs/${startRun.databaseId}`);
    await page.waitForFunction(() => (window as unknown as Charts).__gradstream?.final === true, null, {
      timeout: 60_000,
    });
    await page.waitForFunction(
      () => (window as unknown as Charts).__gradstream.charts.validationSteps?.data[0]?.length === 7,
      null,
      { timeout: 10_000 },
    );
    const drawn = await page.evaluate(
      () => (window as unknown as Charts).__gradstream.charts.validationSteps.data,
    );
    const { run } = await gql<{
      run: { validationMetrics: { step: number; loss: number; accuracy: number }[] };
    }>("query ($id: ID!) { run(id: $id) { ... on Run { validationMetrics { step loss accuracy } } } }", {
      id: startRun.id,
    });
    expect(drawn[0]).toEqual([14, 29, 39, 44, 59, 74, 79]);
    // Prisma's SQLite driver adapter may read a REAL back one binary digit off: 12 digits agree.
    const near = (xs: number[]) => xs.map((x) => Number(x.toPrecision(12)));
    expect(near(drawn[1])).toEqual(near(run.validationMetrics.map((v) => v.loss)));
    expect(near(drawn[2])).toEqual(near(run.validationMetrics.map((v) => v.accuracy)));
    expect(pageErrors).toEqual([]);
  });
});
