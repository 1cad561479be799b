// A language model with int64 token inputs and per-position labels goes through the API like any
// other run: startRun with a text dataset, every batch streamed over a real graphql-ws WebSocket, and
// the run completes.
import { createClient } from "graphql-ws";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { gqlData } from "../helpers/gql.ts";
import { useLiveServer } from "../helpers/live-server.ts";

let url: string;
useLiveServer({}, (live) => {
  url = live.url;
});

const gql = (query: string, variables: Record<string, unknown> = {}) => gqlData(url, query, variables);

describe("a character language model through the API", () => {
  it("starts on text:corpus=licenses, streams every step over WebSocket and finishes", async () => {
    const { models } = await gql("{ models { nodes { id name inputShape classes } } }");
    const lm = (
      models as { nodes: { id: string; name: string; inputShape: number[]; classes: number }[] }
    ).nodes.find((m) => m.name === "transformer-char");
    expect(lm).toMatchObject({ inputShape: [32], classes: 86 });
    const { startRun } = await gql(
      `mutation ($model: ID!) {
        startRun(input: { model: $model, datasetSpec: "text:corpus=licenses,seqLen=32,limit=96", batchSize: 32,
                          epochs: 1, optimizer: { kind: ADAM, lr: 0.003 } }) {
          ... on Run { id totalSteps }
          ... on Error { message }
        }
      }`,
      { model: lm?.id },
    );
    const run = startRun as { id: string; totalSteps: number; message?: string };
    expect(run.message).toBeUndefined();
    expect(run.totalSteps).toBe(3);
    const client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket });
    const rows: { step: number; loss: number; accuracy: number }[] = [];
    for await (const r of client.iterate({
      query: `subscription ($id: ID!) { batchMetrics(runId: $id, afterStep: -1) { final rows { step loss accuracy } } }`,
      variables: { id: run.id },
    })) {
      expect(r.errors).toBeUndefined();
      rows.push(...((r.data?.batchMetrics as { rows: typeof rows } | undefined)?.rows ?? []));
    }
    await client.dispose();
    expect(rows.map((r) => r.step)).toEqual([0, 1, 2]);
    // 86 characters: an untrained model starts near ln 86 ≈ 4.45 nats per character
    expect(rows[0].loss).toBeGreaterThan(3.5);
    expect(rows.every((r) => r.accuracy >= 0 && r.accuracy <= 1)).toBe(true);
    const { run: done } = await gql(`query ($id: ID!) { run(id: $id) { ... on Run { status } } }`, {
      id: run.id,
    });
    expect(done).toMatchObject({ status: "COMPLETED" });
  }, 120_000);
});
