// System metrics end to end on a real server: a linear run's chunks each get the trainer's CPU time,
// RSS, wall-clock span and samples/s, stored (Run.systemMetrics), streamed live over graphql-ws with
// each chunk and replayed identically to a late subscriber.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Live, startLive, wsClient } from "../helpers/live-server.ts";

let live: Live;
beforeAll(async () => {
  live = await startLive();
});
afterAll(() => live.close());

interface System {
  step: number;
  firstStep: number;
  startTime: string;
  time: string;
  wallMs: number;
  msPerBatch: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  cpuUtilization: number;
  rssBytes: number;
  samplesPerSec: number;
}
interface SysChunk {
  lastStep: number;
  final: boolean;
  rows: { step: number; samples: number }[];
  system: System[];
}
const FIELDS =
  "step firstStep startTime time wallMs msPerBatch cpuUserMs cpuSystemMs cpuUtilization rssBytes samplesPerSec";
const SUB = `subscription($runId: ID!) { batchMetrics(runId: $runId) { lastStep final rows { step samples } system { ${FIELDS} } } }`;

async function collect(runId: string): Promise<SysChunk[]> {
  const client = wsClient(live.wsUrl);
  const chunks: SysChunk[] = [];
  try {
    for await (const r of client.iterate<{ batchMetrics: SysChunk }>({ query: SUB, variables: { runId } })) {
      if (r.errors) throw new Error(r.errors.map((e) => e.message).join("; "));
      if (r.data) chunks.push(r.data.batchMetrics);
    }
  } finally {
    await client.dispose();
  }
  return chunks;
}

describe("system metrics per chunk", () => {
  it("stores, streams and replays samples over whole chunks: CPU time, RSS, wall-clock span and samples/s", async () => {
    const model = await live.gql<{ models: { nodes: { id: string; name: string }[] } }>(
      "{ models { nodes { id name } } }",
    );
    const linear = model.data!.models.nodes.find((m) => m.name === "linear")!;
    const started = await live.gql<{ startRun: { id: string } }>(
      `mutation($model: ID!) { startRun(input: { model: $model, datasetSpec: "batch-size", batchSize: 10,
        epochs: 2, k: 20 }) { ... on Run { id } ... on Error { message } } }`,
      { model: linear.id },
    );
    const runId = started.data!.startRun.id;
    const liveChunks = await collect(runId);
    const stored = await live.gql<{ run: { systemMetrics: System[]; startedAt: string } }>(
      `query($id: ID!) { run(id: $id) { ... on Run { startedAt systemMetrics { ${FIELDS} } } } }`,
      { id: runId },
    );
    const rows = stored.data!.run.systemMetrics;
    // 200 steps in chunks of 20: samples cover every step once, each ending on a chunk boundary
    // (short chunks are merged until a sample spans 50 ms).
    expect(rows[0].firstStep).toBe(0);
    expect(rows.at(-1)?.step).toBe(199);
    for (let i = 1; i < rows.length; i++) expect(rows[i].firstStep).toBe(rows[i - 1].step + 1);
    for (const r of rows) expect((r.step + 1) % 20).toBe(0);
    for (const r of rows) {
      expect(r.rssBytes).toBeGreaterThan(20 * 2 ** 20);
      expect(r.rssBytes).toBeLessThan(64 * 2 ** 30);
      expect(r.cpuUserMs + r.cpuSystemMs).toBeGreaterThan(0);
      expect(r.wallMs).toBeGreaterThan(0);
      const steps = r.step - r.firstStep + 1;
      expect(r.msPerBatch).toBeCloseTo(r.wallMs / steps, 6);
      expect(Math.abs((r.samplesPerSec * r.wallMs) / (steps * 10 * 1000) - 1)).toBeLessThan(1e-6);
      expect(r.cpuUtilization).toBeCloseTo((r.cpuUserMs + r.cpuSystemMs) / r.wallMs, 6);
      expect(Date.parse(r.time) - Date.parse(r.startTime)).toBeGreaterThanOrEqual(Math.floor(r.wallMs) - 1);
      expect(Date.parse(r.startTime)).toBeGreaterThanOrEqual(Date.parse(stored.data!.run.startedAt) - 1000);
    }
    // Wall time only moves forward: usable as the x axis.
    for (let i = 1; i < rows.length; i++)
      expect(Date.parse(rows[i].startTime)).toBeGreaterThanOrEqual(Date.parse(rows[i - 1].time) - 1);
    // The stream carried each sample with the chunk it ended in, and a late subscriber gets the same from the database.
    // (The run's last, shorter sample is stored when it ends, after its last chunk was streamed.)
    const streamed = liveChunks.filter((c) => !c.final).flatMap((c) => c.system);
    expect(streamed.length).toBeGreaterThanOrEqual(rows.length - 1);
    expect(streamed).toEqual(rows.slice(0, streamed.length));
    for (const c of liveChunks.filter((x) => !x.final))
      for (const sys of c.system) expect(sys.step).toBe(c.lastStep);
    const replayed = await collect(runId);
    expect(replayed.filter((c) => !c.final).flatMap((c) => c.system)).toEqual(rows);
  });

  it("gives an EXTERNAL run no system metrics and refuses a page size outside 1 to 10000", async () => {
    const made = await live.gql<{ createRun: { id: string } }>(
      `mutation { createRun(input: { name: "ext" }) { ... on Run { id } } }`,
    );
    const id = made.data!.createRun.id;
    await live.gql(
      `mutation($id: ID!) { logMetrics(runId: $id, rows: [{ step: 0, loss: 1 }]) { ... on LogResult { stored } } }`,
      { id },
    );
    const r = await live.gql<{ run: { systemMetrics: System[] } }>(
      `query($id: ID!) { run(id: $id) { ... on Run { systemMetrics { step } } } }`,
      { id },
    );
    expect(r.data!.run.systemMetrics).toEqual([]);
    const bad = await live.gql(
      `query($id: ID!) { run(id: $id) { ... on Run { systemMetrics(first: 0) { step } } } }`,
      { id },
    );
    expect(bad.errors?.[0].message).toBe("first must be an integer from 1 to 10000, got 0");
  });
});
