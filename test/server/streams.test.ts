// The API end to end on a real server: the reference experiments train and stream through graphql-ws
// and graphql-sse, a client that keeps disconnecting resumes without gap or duplicate, and lifecycle
// mutations act on real runs.
import { createClient as createSseClient } from "graphql-sse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHUNKS,
  type Chunk,
  collectWs,
  type Live,
  range,
  startLive,
  startNamedRun,
  steps,
  wsClient,
} from "../helpers/live-server.ts";

let live: Live;
beforeAll(async () => {
  live = await startLive();
});
afterAll(() => live.close());

async function startExperiment(name: string): Promise<{ id: string; totalSteps: number }[]> {
  const r = await live.gql<{ startExperiment: { runs: { id: string; totalSteps: number }[] } }>(
    `mutation($name: String!) { startExperiment(name: $name) { ... on ExperimentStart { runs { id totalSteps } } } }`,
    { name },
  );
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.startExperiment.runs;
}

describe("the reference experiments through the API", () => {
  it("linear streams exactly 100 batches over graphql-ws, in chunks of K, ending with a final chunk", async () => {
    const [run] = await startExperiment("linear");
    expect(run.totalSteps).toBe(100);
    const chunks = await collectWs(live.wsUrl, run.id);
    expect(steps(chunks)).toEqual(range(100));
    expect(chunks.at(-1)?.final).toBe(true);
    expect(chunks.filter((c) => c.rows.length > 0).every((c) => c.rows.length <= 10)).toBe(true);
    expect(
      chunks
        .flatMap((c) => c.rows)
        .every((r) => Number.isFinite(r.loss) && r.accuracy >= 0 && r.accuracy <= 1),
    ).toBe(true);
  });

  it("batch-size streams 100 and 10 batches over graphql-sse, and the bs-10 loss fluctuates more", async () => {
    const runs = await startExperiment("batch-size");
    expect(runs.map((r) => r.totalSteps)).toEqual([100, 10]);
    const sse = createSseClient({ url: `${live.url}/stream` });
    const perRun: Chunk[][] = [];
    for (const run of runs) {
      const chunks: Chunk[] = [];
      for await (const r of sse.iterate<{ batchMetrics: Chunk }>({
        query: CHUNKS,
        variables: { runId: run.id },
      })) {
        if (r.data) chunks.push(r.data.batchMetrics);
      }
      perRun.push(chunks);
    }
    sse.dispose();
    expect(steps(perRun[0])).toEqual(range(100));
    expect(steps(perRun[1])).toEqual(range(10));
    const q = `query($id: ID!) { run(id: $id) { ... on Run { status fluctuation(window: 5) { overall { loss { std } } } } } }`;
    const f = await Promise.all(
      runs.map((r) =>
        live.gql<{ run: { status: string; fluctuation: { overall: { loss: { std: number } } } } }>(q, {
          id: r.id,
        }),
      ),
    );
    expect(f.map((x) => x.data?.run.status)).toEqual(["COMPLETED", "COMPLETED"]);
    const [bs10, bs100] = f.map((x) => x.data?.run.fluctuation.overall.loss.std ?? Number.NaN);
    expect(bs10).toBeGreaterThan(bs100);
  });

  it("cnn-dropout streams exactly 64 batches (2 epochs of ⌈1000/32⌉) and records 2 epochs", async () => {
    const [run] = await startExperiment("cnn-dropout");
    const chunks = await collectWs(live.wsUrl, run.id);
    expect(steps(chunks)).toEqual(range(64));
    expect(new Set(chunks.flatMap((c) => c.rows.map((r) => r.epoch)))).toEqual(new Set([0, 1]));
    const r = await live.gql<{
      run: {
        epochs: { nodes: { epoch: number; batches: number }[] };
        checkpoints: { nodes: { step: number }[] };
      };
    }>(
      `query($id: ID!) { run(id: $id) { epochs { nodes { epoch batches } } checkpoints { nodes { step } } } }`,
      {
        id: run.id,
      },
    );
    expect(r.data?.run.epochs.nodes).toEqual([
      { epoch: 0, batches: 32 },
      { epoch: 1, batches: 32 },
    ]);
    // A checkpoint's step counts the steps it includes (resume continues at that step).
    expect(r.data?.run.checkpoints.nodes.at(-1)?.step).toBe(64);
  });
});

describe("resumable streams", () => {
  it("a client that disconnects at random points and resubscribes after its last step sees every step exactly once", async () => {
    // 1,000 one-step chunks, so the disconnects land while the run is still training.
    const run = await startNamedRun(
      live,
      { model: "linear", dataset: "batch-size" },
      { batchSize: 2, epochs: 2, k: 1 },
    );
    expect(run.totalSteps).toBe(1000);
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 1 + (seed % n);
    };
    const seen: number[] = [];
    let last = -1;
    let final = false;
    let reconnects = 0;
    while (!final) {
      const client = wsClient(live.wsUrl);
      const stopAfter = reconnects < 6 ? rand(120) : Number.POSITIVE_INFINITY;
      let got = 0;
      for await (const r of client.iterate<{ batchMetrics: Chunk }>({
        query: CHUNKS,
        variables: { runId: run.id, afterStep: last },
      })) {
        const c = r.data?.batchMetrics;
        if (!c) throw new Error(JSON.stringify(r.errors));
        seen.push(...c.rows.map((x) => x.step));
        last = c.lastStep;
        final = c.final;
        if (++got >= stopAfter) break;
      }
      await client.dispose();
      reconnects++;
    }
    expect(reconnects).toBeGreaterThanOrEqual(7);
    expect(seen).toEqual(range(1000));
  });
});

describe("run events and lifecycle over the API", () => {
  it("streams status changes and epoch summaries on runEvents and creations on runsChanged", async () => {
    const client = wsClient(live.wsUrl);
    const changes: { kind: string; runId: string }[] = [];
    const changed = (async () => {
      for await (const r of client.iterate<{ runsChanged: { kind: string; runId: string } }>({
        query: "subscription { runsChanged { kind runId status } }",
      })) {
        if (r.data) changes.push(r.data.runsChanged);
        if (changes.some((c) => c.kind === "FINISHED")) break;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [run] = await startExperiment("linear");
    const events: string[] = [];
    for await (const r of client.iterate<{
      runEvents: { __typename: string; status?: string; epoch?: { epoch: number } };
    }>({
      query: `subscription($id: ID!) { runEvents(runId: $id) { __typename
        ... on RunStatusEvent { status } ... on RunEpochEvent { epoch { epoch } } } }`,
      variables: { id: run.id },
    })) {
      const e = r.data?.runEvents;
      if (!e) break;
      events.push(e.__typename === "RunStatusEvent" ? `status:${e.status}` : `epoch:${e.epoch?.epoch}`);
      if (e.status === "COMPLETED" || e.status === "FAILED") break;
    }
    await changed;
    await client.dispose();
    // The subscription may open after the run started; whatever it saw ends with the last epochs and COMPLETED.
    expect(events.at(-1)).toBe("status:COMPLETED");
    expect(events.filter((e) => e.startsWith("epoch:")).length).toBeGreaterThan(0);
    expect(changes.filter((c) => c.runId === run.id).map((c) => c.kind)).toEqual([
      "CREATED",
      "STARTED",
      "FINISHED",
    ]);
  });

  it("exports a finished run's trained model as ONNX bytes from its exportUrl, and deletes the run", async () => {
    const [run] = await startExperiment("linear");
    await collectWs(live.wsUrl, run.id);
    const e = await live.gql<{ run: { exportUrl: string } }>(
      `query($id: ID!) { run(id: $id) { exportUrl } }`,
      { id: run.id },
    );
    const res = await fetch(e.data?.run.exportUrl ?? "");
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.byteLength).toBeGreaterThan(100);
    const again = await live.gql<{ registerModel: unknown }>("{ models { nodes { name } } }");
    expect(again.errors).toBeUndefined();
    const d = await live.gql<{ deleteRun: { deletedRunId: string } }>(
      `mutation($id: ID!) { deleteRun(id: $id) { ... on DeleteRunPayload { deletedRunId } } }`,
      { id: run.id },
    );
    expect(d.data?.deleteRun.deletedRunId).toBe(run.id);
    const gone = await live.gql<{ run: null }>(`query($id: ID!) { run(id: $id) { __typename } }`, {
      id: run.id,
    });
    expect(gone.data?.run).toBeNull();
  });

  it("cancels a running run and resumes it from its checkpoint with the same step numbering", async () => {
    const run = await startNamedRun(
      live,
      { model: "linear", dataset: "batch-size" },
      { batchSize: 1, epochs: 3, k: 1 },
    );
    // Wait until it has trained a little, then cancel.
    const client = wsClient(live.wsUrl);
    const first: number[] = [];
    for await (const r of client.iterate<{ batchMetrics: Chunk }>({
      query: CHUNKS,
      variables: { runId: run.id },
    })) {
      first.push(...(r.data?.batchMetrics.rows.map((x) => x.step) ?? []));
      if (first.length >= 20) break;
    }
    const c = await live.gql<{ cancelRun: { __typename: string; status: string } }>(
      `mutation($id: ID!) { cancelRun(id: $id) { __typename ... on Run { status } } }`,
      { id: run.id },
    );
    expect(c.data?.cancelRun).toEqual({ __typename: "Run", status: "CANCELLED" });
    const again = await live.gql<{ cancelRun: { __typename: string; field: string } }>(
      `mutation($id: ID!) { cancelRun(id: $id) { __typename ... on ValidationError { field message } } }`,
      { id: run.id },
    );
    expect(again.data?.cancelRun).toMatchObject({ __typename: "ValidationError", field: "id" });
    const r = await live.gql<{ resumeRun: { __typename: string; status: string } }>(
      `mutation($id: ID!) { resumeRun(id: $id) { __typename ... on Run { status } } }`,
      { id: run.id },
    );
    expect(r.data?.resumeRun.__typename).toBe("Run");
    await client.dispose();
    const all = await collectWs(live.wsUrl, run.id);
    expect(steps(all)).toEqual(range(3000));
  });
});
