// Starts the real gradstream server in-process on a free port with a temporary SQLite file, and
// Debian's Chromium through playwright-core, for the dashboard's browser tests.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { createRunManager } from "../../src/runs/manager.ts";
import { type App, buildApp } from "../../src/server/app.ts";
import { loadConfig } from "../../src/server/config.ts";

export interface TestServer {
  app: App;
  /** http://127.0.0.1:PORT (no trailing slash) */
  origin: string;
  stop(): Promise<void>;
}

export async function startServer(): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "gradstream-web-"));
  const config = loadConfig({
    DATABASE_URL: `file:${join(dir, "web.db")}`,
    PORT: "0",
    HOST: "127.0.0.1",
    NODE_ENV: "test",
  });
  const app = buildApp(config, {
    createRunManager: ({ db }) =>
      createRunManager({
        db,
        maxConcurrent: config.maxConcurrentRuns,
        maxQueued: config.subscriberMaxQueued,
      }),
    log: () => {},
  });
  const { url } = await app.start();
  return {
    app,
    origin: url.replace(/\/graphql$/, ""),
    async stop() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const CHROMIUM = "/usr/bin/chromium";

/** playwright-core gives every launch a fresh temporary profile (it refuses --user-data-dir). */
export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
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
