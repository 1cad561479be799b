// The dashboard in a real browser (Debian's Chromium via playwright-core) against the real server on a
// free port with a temporary SQLite file. Screenshots go to .artifacts/web/.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, startServer, type TestServer } from "./harness.ts";

let server: TestServer;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let page: Page;
const pageErrors: string[] = [];

/** What the page exposes on window.__gradstream (see public/js/app.js). */
interface Hook {
  final: boolean;
  charts: Record<string, { data: (number | null | undefined)[][] }>;
  run: { id: string; store: { steps: number[]; lastStep: number } };
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
    on.smoothed.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 9));
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
    await form.locator('input[name="epochs"]').fill("8");
    await form.locator('input[name="k"]').fill("1");
    await form.locator('input[name="name"]').fill("long");
    await form.locator('button[type="submit"]').click();
    await page.waitForURL(/#\/runs\/\d+$/);
    const total = 8_000;
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
    const cv = await page
      .locator("#compare-summary tbody tr")
      .evaluateAll((rows) => rows.map((r) => Number(r.querySelectorAll("td")[5].textContent)));
    // Batch 10's loss fluctuates more than batch 100's: the point of example 2.
    expect(cv[0]).toBeGreaterThan(cv[1]);
    await shot("compare-batch-size");
    await page.goto(`${server.origin}/`);
    await page.waitForSelector("#runs tbody tr");
    await shot("runs");
    expect(pageErrors).toEqual([]);
  });
});
