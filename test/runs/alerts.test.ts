// Alert webhooks against a real local HTTP receiver: signed JSON POSTs on a run's end, retried with
// backoff through a receiver that fails twice, NON_FINITE_LOSS for a diverged run, PLATEAU once, each
// logged as a RunEvent and an AlertDelivery row; and the SSRF rules for URLs API callers send.
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDatabase, RunStatus } from "../../src/db/index.ts";
import { alertDeliveries } from "../../src/db/learning.ts";
import { ValidationError } from "../../src/errors.ts";
import { checkAlertUrl } from "../../src/runs/alerts.ts";
import { createRunManager, type GradstreamRunManager } from "../../src/runs/manager.ts";
import type { RunEvent } from "../../src/runs/types.ts";

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const SECRET = "test-secret";
const dir = mkdtempSync(join(tmpdir(), "gradstream-alerts-"));
let db: Db;
let m: GradstreamRunManager;
let server: Server;
let base: string;
const received: Received[] = [];
/** Path → how many more requests to answer 500 before answering 204. */
const failures = new Map<string, number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body });
      const left = failures.get(path) ?? 0;
      failures.set(path, left - 1);
      res.writeHead(left > 0 ? 500 : 204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  db = await openDatabase(`file:${join(dir, "alerts.db")}`);
  m = await createRunManager({
    db,
    maxConcurrent: 1,
    alerts: { secret: SECRET, allowedHosts: ["127.0.0.1"], backoffMs: 20, maxAttempts: 4 },
  });
});
afterAll(async () => {
  await m.close();
  await db.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function finished(id: number) {
  for await (const c of m.batches(id, -1)) if (c.final) break;
  await m.alerter.settle();
  return (await db.getRun(id))!;
}

const BLOBS = "blobs:samples=200,shape=10,classes=2";

describe("alert webhooks", () => {
  it("POSTs a signed COMPLETED alert, retried through a receiver that fails twice, and logs it", async () => {
    failures.set("/flaky", 2);
    const linear = await m.builtinModel("linear");
    const run = await m.start({
      name: "alerted",
      modelId: linear.id,
      dataset: { spec: BLOBS },
      config: { batchSize: 20, epochs: 1 },
      alerts: { urls: [`${base}/flaky`] },
    });
    const events = m.runEvents(run.id);
    const alerts: RunEvent[] = [];
    const collecting = (async () => {
      for await (const e of events)
        if (e.kind === "alert") {
          alerts.push(e);
          break;
        }
    })();
    expect((await finished(run.id)).status).toBe(RunStatus.COMPLETED);
    await collecting;
    const posts = received.filter((r) => r.path === "/flaky");
    expect(posts.length).toBe(3);
    const body = JSON.parse(posts[2].body);
    expect(body).toMatchObject({
      event: "COMPLETED",
      run: { id: String(run.id), name: "alerted", status: "COMPLETED" },
      step: 9,
    });
    // The signature is the HMAC-SHA256 of the exact body under ALERT_SECRET.
    const expected = `sha256=${createHmac("sha256", SECRET).update(posts[2].body).digest("hex")}`;
    expect(posts.map((p) => p.headers["x-gradstream-signature"])).toEqual([expected, expected, expected]);
    expect(posts[0].headers["x-gradstream-event"]).toBe("COMPLETED");
    const [delivery] = await alertDeliveries(db, run.id);
    expect(delivery).toMatchObject({
      event: "COMPLETED",
      attempts: 3,
      delivered: true,
      httpStatus: 204,
      lastError: null,
    });
    expect(alerts[0]).toMatchObject({
      kind: "alert",
      alert: { event: "COMPLETED", attempts: 3, delivered: true },
    });
  });

  it("gives up after the configured attempts and records the last error", async () => {
    failures.set("/down", 100);
    const linear = await m.builtinModel("linear");
    const run = await m.start({
      modelId: linear.id,
      dataset: { spec: BLOBS },
      config: { batchSize: 20, epochs: 1 },
      alerts: { urls: [`${base}/down`] },
    });
    await finished(run.id);
    expect(received.filter((r) => r.path === "/down").length).toBe(4);
    expect(await alertDeliveries(db, run.id)).toMatchObject([
      { event: "COMPLETED", attempts: 4, delivered: false, httpStatus: 500, lastError: "HTTP 500" },
    ]);
  });

  it("sends FAILED and NON_FINITE_LOSS for a diverged run, and PLATEAU once for a stalled one", async () => {
    const linear = await m.builtinModel("linear");
    const mlp = await m.builtinModel("mnist-mlp");
    const diverged = await m.start({
      modelId: mlp.id,
      dataset: { spec: "blobs:samples=200,shape=1x28x28,classes=10,spread=0.5" },
      config: { batchSize: 20, epochs: 3, optimizer: { kind: "sgd", lr: 100 } },
      alerts: { urls: [`${base}/nan`] },
    });
    const failed = await finished(diverged.id);
    expect(failed.status).toBe(RunStatus.FAILED);
    const events = received.filter((r) => r.path === "/nan").map((r) => JSON.parse(r.body));
    expect(events.map((e) => e.event).sort()).toEqual(["FAILED", "NON_FINITE_LOSS"]);
    expect(events.find((e) => e.event === "NON_FINITE_LOSS")).toMatchObject({ step: failed.failedAtStep });

    const stalled = await m.start({
      modelId: linear.id,
      dataset: { spec: BLOBS },
      config: { batchSize: 20, epochs: 2, validation: { fraction: 0.2, everySteps: 2 } },
      // minDelta 10 nats: nothing improves on the first evaluation, so patience 1 runs out at the second.
      alerts: { urls: [`${base}/plateau`], plateau: { metric: "val_loss", patience: 1, minDelta: 10 } },
    });
    await finished(stalled.id);
    const plateau = received.filter((r) => r.path === "/plateau").map((r) => JSON.parse(r.body));
    expect(plateau.map((e) => e.event)).toEqual(["PLATEAU", "COMPLETED"]);
    expect(plateau[0]).toMatchObject({ step: 3 });
  });

  it("refuses loopback, private, link-local and non-http URLs from API callers unless allowed, creating nothing", async () => {
    const allowed: string[] = [];
    for (const url of [
      "http://127.0.0.1:9/x",
      "http://localhost/x",
      "http://10.1.2.3/x",
      "http://169.254.169.254/latest/meta-data",
      "http://[::1]/x",
      "http://[::ffff:127.0.0.1]/x",
      "http://192.168.0.10/x",
    ])
      expect(() => checkAlertUrl(url, "alerts.urls[0]", allowed)).toThrow(
        /loopback, private or link-local address; webhooks may reach it only when ALERT_ALLOWED_HOSTS lists it/,
      );
    expect(() => checkAlertUrl("file:///etc/passwd", "alerts.urls[0]", allowed)).toThrow(
      /must use http or https, got file/,
    );
    expect(() => checkAlertUrl("https://u:p@hooks.example.com/", "alerts.urls[0]", allowed)).toThrow(
      /credentials/,
    );
    expect(checkAlertUrl("https://hooks.example.com/a", "x", allowed)).toBe("https://hooks.example.com/a");
    expect(checkAlertUrl("http://10.1.2.3/x", "x", ["10.0.0.0/8"])).toBe("http://10.1.2.3/x");

    const strict = await createRunManager({ db, maxConcurrent: 1, alerts: { allowedHosts: [] } });
    try {
      const linear = await strict.builtinModel("linear");
      const before = (await db.listRuns({ first: 100 })).length;
      await expect(
        strict.start({
          modelId: linear.id,
          dataset: { spec: BLOBS },
          config: { batchSize: 20 },
          alerts: { urls: [`${base}/x`] },
        }),
      ).rejects.toThrow(ValidationError);
      expect((await db.listRuns({ first: 100 })).length).toBe(before);
    } finally {
      await strict.close();
    }
  });
});
