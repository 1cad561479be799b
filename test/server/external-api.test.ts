// External runs over the real server with tokens required: write scope to log, read scope to export,
// typed errors for bad input, and a trained run that refuses logged rows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../src/db/tokens.ts";
import { postGql } from "../helpers/gql.ts";
import { dbId } from "../helpers/ids.ts";
import { type Live, startLive } from "../helpers/live-server.ts";

const post = (url: string, query: string, variables: Record<string, unknown>, token: string | null) =>
  postGql(url, query, variables, { token });

const CREATE = `mutation($name: String!) { createRun(input: { name: $name }) { ... on Run { id kind status model { id } } } }`;
const LOG = `mutation($id: ID!, $rows: [MetricRowInput!]!) {
  logMetrics(runId: $id, rows: $rows) {
    __typename ... on LogResult { stored ignored lastStep } ... on Error { message } ... on ValidationError { field } } }`;

describe("external runs through the API, tokens required", () => {
  let live: Live;
  let read: string;
  let write: string;
  let runId: string;

  beforeAll(async () => {
    live = await startLive({ GRADSTREAM_AUTH: "required", MAX_LOG_ROWS: "100" });
    const db = live.app.db;
    if (!db) throw new Error("server has no database");
    read = (await createToken(db, { name: "viewer", scope: "read" })).token;
    write = (await createToken(db, { name: "trainer", scope: "write" })).token;
    const created = await post(live.url, CREATE, { name: "api" }, write);
    const run = (
      created.body.data as { createRun: { id: string; kind: string; status: string; model: null } }
    ).createRun;
    expect(run).toMatchObject({ kind: "EXTERNAL", status: "RUNNING", model: null });
    runId = run.id;
  });
  afterAll(() => live.close());

  it("refuses createRun and logMetrics with a read token (403) and stores nothing", async () => {
    const r = await post(live.url, LOG, { id: runId, rows: [{ step: 0, loss: 1 }] }, read);
    expect(r.status).toBe(403);
    const c = await post(live.url, CREATE, { name: "x" }, read);
    expect(c.status).toBe(403);
    expect((await live.app.db?.getRun(dbId(runId)))?.stepsCompleted).toBe(0);
  });

  it("stores rows with a write token and answers bad input with a ValidationError naming the field", async () => {
    const ok = await post(
      live.url,
      LOG,
      {
        id: runId,
        rows: [
          { step: 1, loss: 0.5 },
          { step: 0, loss: 0.7 },
        ],
      },
      write,
    );
    expect(ok.body.data?.logMetrics).toEqual({ __typename: "LogResult", stored: 2, ignored: 0, lastStep: 1 });
    const big = await post(
      live.url,
      LOG,
      { id: runId, rows: Array.from({ length: 101 }, (_, step) => ({ step })) },
      write,
    );
    expect(big.body.data?.logMetrics).toEqual({
      __typename: "ValidationError",
      field: "rows",
      message: "101 rows in one call; at most 100 (MAX_LOG_ROWS): send them in several calls",
    });
    const conflict = await post(live.url, LOG, { id: runId, rows: [{ step: 0, loss: 0.8 }] }, write);
    expect(conflict.body.data?.logMetrics).toMatchObject({
      __typename: "ValidationError",
      field: "rows.loss",
      message:
        "step 0 is already stored with a different loss (stored 0.7, sent 0.8); a step's values cannot change",
    });
    const custom = await post(
      live.url,
      LOG,
      { id: runId, rows: [{ step: 5, custom: { lr: "fast" } }] },
      write,
    );
    expect(custom.body.data?.logMetrics).toMatchObject({
      field: "custom.lr",
      message: 'step 5: custom.lr = "fast"; a finite number is required',
    });
    const unknown = await post(live.url, LOG, { id: "999", rows: [] }, write);
    expect(unknown.body.data?.logMetrics).toMatchObject({ __typename: "NotFoundError" });
    expect((await live.app.db?.getRun(dbId(runId)))?.stepsCompleted).toBe(2);
  });

  it("refuses logged rows for a TRAINED run, naming its kind", async () => {
    const started = await post(
      live.url,
      `mutation { startExperiment(name: "linear") { ... on ExperimentStart { runs { id } } } }`,
      {},
      write,
    );
    const trained = (started.body.data as { startExperiment: { runs: { id: string }[] } }).startExperiment
      .runs[0].id;
    const r = await post(live.url, LOG, { id: trained, rows: [{ step: 0, loss: 1 }] }, write);
    expect(r.body.data?.logMetrics).toMatchObject({
      field: "runId",
      message: `run ${dbId(trained)} is TRAINED: only EXTERNAL runs (createRun) accept logged metrics`,
    });
  });

  it("exports the rows as NDJSON and CSV with a read token, and answers 401 without one", async () => {
    const base = live.url.replace(/\/graphql$/, "");
    const none = await fetch(`${base}/runs/${runId}/metrics.csv`);
    expect(none.status).toBe(401);
    const auth = { authorization: `Bearer ${read}` };
    const nd = await fetch(`${base}/runs/${runId}/metrics.ndjson`, { headers: auth });
    expect(nd.headers.get("content-type")).toBe("application/x-ndjson");
    expect(
      (await nd.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      {
        step: 0,
        epoch: 0,
        batch: 0,
        loss: 0.7,
        accuracy: null,
        lr: null,
        gradNorm: null,
        confidence: null,
        trueClassProb: null,
        samples: 0,
        timeMs: 0,
      },
      {
        step: 1,
        epoch: 0,
        batch: 1,
        loss: 0.5,
        accuracy: null,
        lr: null,
        gradNorm: null,
        confidence: null,
        trueClassProb: null,
        samples: 0,
        timeMs: 0,
      },
    ]);
    const csv = await fetch(`${base}/runs/${runId}/metrics.csv`, { headers: auth });
    expect(await csv.text()).toBe(
      "step,epoch,batch,samples,loss,accuracy,lr,gradNorm,confidence,trueClassProb,timeMs\n0,0,0,0,0.7,,,,,,0\n1,0,1,0,0.5,,,,,,0\n",
    );
    const missing = await fetch(`${base}/runs/999/metrics.csv`, { headers: auth });
    expect([missing.status, await missing.text()]).toEqual([404, "unknown run id 999\n"]);
  });
});
