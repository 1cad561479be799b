// The whole dashboard against a server that requires API tokens (GRADSTREAM_AUTH=required), in
// Chromium: the sign-in prompt, a refused token, a write token that starts a run and streams it over
// graphql-ws, the token kept in sessionStorage and never in the URL, and a read-only token whose
// write controls are disabled and say why.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../src/db/tokens.ts";
import { launchBrowser, startServer, type TestServer } from "./harness.ts";

let server: TestServer;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let page: Page;
let writeToken: string;
let readToken: string;
const pageErrors: string[] = [];

/** The part of window.__gradstream (public/js/app.js) this test reads. */
type Hooked = Window & { __gradstream?: { final: boolean; run: { store: { steps: number[] } } } };

beforeAll(async () => {
  server = await startServer({ GRADSTREAM_AUTH: "required" });
  const db = server.app.db;
  if (!db) throw new Error("no database");
  writeToken = (await createToken(db, { name: "writer", scope: "write" })).token;
  readToken = (await createToken(db, { name: "reader", scope: "read" })).token;
  ({ browser, close: closeBrowser } = await launchBrowser());
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => pageErrors.push(e.message));
});
afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

async function signIn(token: string) {
  await page.fill('#signin-form input[name="token"]', token);
  await page.click('#signin-form button[type="submit"]');
}

describe("the dashboard with GRADSTREAM_AUTH=required", () => {
  it("asks for a token, and says why a wrong one is refused", async () => {
    await page.goto(`${server.origin}/`);
    await page.waitForSelector("#signin:not([hidden]) #signin-form");
    await expect(page.locator("#signin-form [role=alert]").textContent()).resolves.toMatch(
      /^this server requires an API token/,
    );
    await signIn("not-a-token");
    await page.waitForFunction(
      () =>
        document.querySelector("#signin-form [role=alert]")?.textContent === "unknown or revoked API token",
    );
    expect(await page.locator("#signin").isHidden()).toBe(false);
  });

  it("signs in with a write token, starts the linear experiment and streams all 100 steps over graphql-ws", async () => {
    await signIn(writeToken);
    await page.waitForSelector('[data-experiment="linear"]:not([disabled])');
    expect(await page.locator("#signin").isHidden()).toBe(true);
    await page.click('[data-experiment="linear"]');
    await page.waitForURL(/#\/runs\/\d+$/);
    await page.waitForFunction(() => (window as Hooked).__gradstream?.final === true, null, {
      timeout: 60_000,
    });
    const steps = await page.evaluate(() => (window as Hooked).__gradstream?.run.store.steps);
    expect(steps).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // In this tab's session storage, never in the address bar.
    expect(await page.evaluate(() => sessionStorage.getItem("gradstream.token"))).toBe(writeToken);
    expect(page.url()).not.toContain(writeToken);
    await expect(page.locator("#who").textContent()).resolves.toMatch(/^writer/);
  });

  it("with a read-only token shows the runs but disables every write control, saying why", async () => {
    await page.click("#signout");
    await page.waitForSelector("#signin:not([hidden])");
    expect(await page.evaluate(() => sessionStorage.getItem("gradstream.token"))).toBeNull();
    await signIn(readToken);
    await page.waitForSelector("#signin", { state: "hidden" });
    await page.evaluate(() => {
      location.hash = "#/";
    });
    await page.waitForSelector("[data-experiment]");
    await page.waitForSelector("#start-form");
    const reason =
      'token "reader" is read-only: starting, cancelling, deleting, exporting and uploading need a write token';
    const controls = await page.$$eval(
      "[data-experiment], #start-form button, #upload-form button, #upload-form input",
      (els) =>
        els.map((e) => ({ disabled: (e as HTMLButtonElement).disabled, title: e.getAttribute("title") })),
    );
    expect(controls.length).toBeGreaterThan(3);
    expect(controls.every((c) => c.disabled && c.title === reason)).toBe(true);
    // The run page of the finished run: queries and the stream work, its write actions are disabled.
    await page.click(".runs a[href^='#/runs/']");
    // The run page first: until it mounts, __gradstream.final still holds the previous run page's true.
    await page.waitForSelector("[data-action]");
    await page.waitForFunction(() => (window as Hooked).__gradstream?.final === true, null, {
      timeout: 60_000,
    });
    const actions = await page.$$eval("[data-action]", (els) =>
      els.map((e) => ({ disabled: (e as HTMLButtonElement).disabled, title: e.getAttribute("title") })),
    );
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.every((a) => a.disabled && a.title === reason)).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
