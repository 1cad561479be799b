// Starts the real gradstream server in-process on a free port with a temporary SQLite file, and
// Debian's Chromium through playwright-core, for the dashboard's browser tests.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import type { App } from "../../src/server/app.ts";
import { startLive } from "../helpers/live-server.ts";

export interface TestServer {
  app: App;
  /** http://127.0.0.1:PORT (no trailing slash) */
  origin: string;
  stop(): Promise<void>;
}

/** The live-server fixture (test/helpers/live-server.ts), addressed by origin for the browser. */
export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const live = await startLive(env);
  return { app: live.app, origin: live.url.replace(/\/graphql$/, ""), stop: () => live.close() };
}

export const CHROMIUM = "/usr/bin/chromium";

/** playwright-core gives every launch a fresh temporary profile (it refuses --user-data-dir). */
export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the browser tests drive Debian's Chromium at ${CHROMIUM}: apt-get install chromium`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/** Screenshots land in .artifacts/web/ (gitignored) so CI can keep them. */
export const ARTIFACTS = join(import.meta.dirname, "..", "..", ".artifacts", "web");
mkdirSync(ARTIFACTS, { recursive: true });

/**
 * A COMPLETED run of `steps` synthetic batches written straight through the database layer (training
 * a million steps would take minutes): loss decays with a slow wave and per-batch noise, accuracy
 * follows it. Returns the run id.
 */
export async function seedLongRun(app: App, steps: number): Promise<number> {
  const db = app.db;
  if (!db) throw new Error("start the server first");
  const model = await db.findModelByName("linear");
  const dataset = await db.findDatasetByName("batch-size");
  if (!model || !dataset) throw new Error("built-in linear model or batch-size dataset missing");
  const epochSteps = 1000;
  const run = await db.createRun({
    name: `synthetic ${steps.toLocaleString("en")} steps`,
    modelId: model.id,
    datasetId: dataset.id,
    hyperparameters: {
      optimizer: { kind: "sgd", lr: 0.01 },
      batchSize: 1,
      epochs: Math.ceil(steps / epochSteps),
      k: 1000,
    },
    seed: 0,
    stepsPerChunk: 1000,
    totalSteps: steps,
  });
  // A small LCG keeps the noise reproducible without a dependency.
  let s = 12345;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const chunk = 20_000;
  for (let start = 0; start < steps; start += chunk) {
    const rows = [];
    for (let step = start; step < Math.min(steps, start + chunk); step++) {
      const trend = 0.25 + 0.45 * Math.exp(-step / (steps / 5)) + 0.05 * Math.sin(step / (steps / 40));
      const loss = trend * (0.6 + 0.8 * rand());
      rows.push({
        step,
        epoch: Math.floor(step / epochSteps),
        batch: step % epochSteps,
        loss,
        accuracy: Math.min(1, Math.max(0, 1.05 - loss + 0.2 * (rand() - 0.5))),
        lr: 0.01,
        gradNorm: loss * (1 + rand()),
        confidence: Math.min(1, 0.5 + 0.5 * Math.exp(-trend)),
        trueClassProb: Math.exp(-loss),
        samples: 1,
        timeMs: 0.05,
      });
    }
    await db.writeBatchChunk(run.id, rows);
  }
  await db.updateRun(run.id, { status: "COMPLETED", startedAt: new Date(), finishedAt: new Date() });
  return run.id;
}
