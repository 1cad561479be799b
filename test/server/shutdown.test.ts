// Graceful shutdown: stop() completes subscriptions and leaves a training run INTERRUPTED with a
// checkpoint; a new server on the same database resumes it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/index.ts";
import { dbId } from "../helpers/ids.ts";
import { CHUNKS, type Chunk, startLive, startNamedRun, wsClient } from "../helpers/live-server.ts";

const dir = mkdtempSync(join(tmpdir(), "gradstream-shutdown-"));
const DATABASE_URL = `file:${join(dir, "s.db")}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("graceful shutdown", () => {
  it("completes live subscriptions, checkpoints the running run as INTERRUPTED, and a restarted server resumes it", async () => {
    const live = await startLive({ DATABASE_URL });
    const runId = (
      await startNamedRun(
        live,
        { model: "linear", dataset: "batch-size" },
        { batchSize: 1, epochs: 50, k: 1 },
      )
    ).id;
    const client = wsClient(live.wsUrl);
    let received = 0;
    let ended = "";
    const streaming = new Promise<void>((resolve) => {
      client.subscribe<{ batchMetrics: Chunk }>(
        { query: CHUNKS, variables: { runId } },
        {
          next: (r) => {
            received += r.data?.batchMetrics.rows.length ?? 0;
          },
          error: () => {
            ended = "error";
            resolve();
          },
          complete: () => {
            ended = "complete";
            resolve();
          },
        },
      );
    });
    while (received < 50) await new Promise((r) => setTimeout(r, 10));
    await live.app.stop();
    await streaming;
    await client.dispose();
    // graphql-ws ends a subscription on a server going away with a close (reported as error) or complete.
    expect(["error", "complete"]).toContain(ended);

    const db = await openDatabase(DATABASE_URL);
    const run = await db.getRun(dbId(runId));
    const checkpoint = await db.latestCheckpoint(dbId(runId));
    await db.close();
    expect(run?.status).toBe("INTERRUPTED");
    expect(run?.stepsCompleted).toBeGreaterThanOrEqual(50);
    expect(run?.stepsCompleted).toBeLessThan(50_000);
    expect(checkpoint?.step).toBe(run?.stepsCompleted);

    // RESUME_ON_START would resume it by itself (test/runs/resume-on-start.test.ts); here resumeRun does.
    const again = await startLive({ DATABASE_URL, RESUME_ON_START: "false" });
    try {
      const r = await again.gql<{ resumeRun: { __typename: string; status: string } }>(
        `mutation($id: ID!) { resumeRun(id: $id) { __typename ... on Run { status } ... on Error { message } } }`,
        { id: runId },
      );
      expect(r.data?.resumeRun).toEqual({ __typename: "Run", status: "QUEUED" });
      const c = await again.gql<{ cancelRun: { status: string } }>(
        `mutation($id: ID!) { cancelRun(id: $id) { ... on Run { status } } }`,
        { id: runId },
      );
      expect(c.data?.cancelRun.status).toBe("CANCELLED");
    } finally {
      await again.close();
    }
  });
});
