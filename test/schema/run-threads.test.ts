// Run.threads: the onnxruntime intra-op thread count a run trained on. A run's losses depend on it
// (parallel kernels sum in another order), so a user comparing two runs with one seed needs to see it.
import { describe, expect, it } from "vitest";
import { dbId } from "../helpers/ids.ts";
import { type Live, startNamedRun, useLiveServer } from "../helpers/live-server.ts";

let live: Live;
useLiveServer({ THREADS_PER_RUN: "1", MAX_CONCURRENT_RUNS: "1" }, (l) => {
  live = l;
});

const RUN = `query ($id: ID!) { run(id: $id) { ... on Run { status threads providerUsed kind } } }`;

describe("Run.threads", () => {
  it("records THREADS_PER_RUN on a trained run when it starts, and stays null on an EXTERNAL run", async () => {
    const { id } = await startNamedRun(
      live,
      { model: "linear", dataset: "linear" },
      {
        batchSize: 10,
        epochs: 1,
        optimizer: { kind: "SGD", lr: 0.01 },
      },
    );
    for await (const chunk of live.app.runs!.batches(dbId(id), -1)) if (chunk.final) break;
    const trained = await live.gql<{ run: Record<string, unknown> }>(RUN, { id });
    expect(trained.data?.run).toEqual({
      status: "COMPLETED",
      threads: 1,
      providerUsed: "CPU",
      kind: "TRAINED",
    });

    const created = await live.gql<{ createRun: { id: string } }>(
      `mutation { createRun(input: { name: "external" }) { ... on Run { id } } }`,
    );
    const externalId = created.data?.createRun.id;
    const external = await live.gql<{ run: Record<string, unknown> }>(RUN, { id: externalId });
    expect(external.data?.run).toMatchObject({ threads: null, kind: "EXTERNAL" });
  });
});
