// startRun(input: { dropout: false }) trains example 3's CNN with Dropout off: the flag is stored with
// the run and reaches the compiled graph (same seed, same data, different first-batch losses), which
// is what lets the dashboard and compareRuns show how much noise dropout adds.
import { describe, expect, it } from "vitest";
import { gqlData } from "../helpers/gql.ts";
import { dbId } from "../helpers/ids.ts";
import { type Live, useLiveServer } from "../helpers/live-server.ts";

let app: Live["app"];
let url: string;
useLiveServer({}, (live) => {
  ({ app, url } = live);
});

const gql = (query: string, variables: Record<string, unknown> = {}) => gqlData(url, query, variables);

const START = `mutation ($model: ID!, $dropout: Boolean) {
  startRun(input: { model: $model, datasetSpec: "cnn-dropout", batchSize: 32, epochs: 1, seed: 7,
                    optimizer: { kind: ADAM, lr: 0.001 }, dropout: $dropout }) {
    ... on Run { id hyperparameters }
    ... on Error { message }
  }
}`;

describe("startRun dropout switch", () => {
  it("stores dropout: false with the run and trains a different first batch than the default with the same seed", async () => {
    const { models } = await gql("{ models { nodes { id name } } }");
    const cnn = (models as { nodes: { id: string; name: string }[] }).nodes.find((m) => m.name === "cnn");
    const off = (await gql(START, { model: cnn?.id, dropout: false })).startRun as {
      id: string;
      hyperparameters: { dropout?: boolean };
    };
    const on = (await gql(START, { model: cnn?.id })).startRun as {
      id: string;
      hyperparameters: { dropout?: boolean };
    };
    expect(off.hyperparameters.dropout).toBe(false);
    expect(on.hyperparameters.dropout).toBeUndefined();
    const firstLoss = async (id: string) => {
      for await (const chunk of app.runs!.batches(dbId(id), -1)) {
        if (chunk.rows.length) return Number(chunk.rows[0].loss);
      }
      throw new Error(`run ${id} streamed no batch`);
    };
    const [lossOff, lossOn] = [await firstLoss(off.id), await firstLoss(on.id)];
    expect(Number.isFinite(lossOff) && Number.isFinite(lossOn)).toBe(true);
    expect(lossOff).not.toBeCloseTo(lossOn, 6);
  });
});
