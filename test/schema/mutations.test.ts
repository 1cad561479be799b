import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeModel, encodeModel } from "../../src/graph/onnx.ts";
import { MODELS_DIR } from "../../src/server/app.ts";
import { makeRun } from "../helpers/fixtures.ts";
import { gid } from "../helpers/ids.ts";
import { type Harness, openHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await openHarness({ MAX_UPLOAD_BYTES: "20000" });
});
afterAll(() => h.close());

const linearBytes = () => new Uint8Array(readFileSync(join(MODELS_DIR, "linear.onnx")));

/** linear.onnx with extra nodes the compiler has no rule for. */
function withUnsupportedOps(): Uint8Array {
  const m = decodeModel(linearBytes());
  const input = m.graph.inputs[0].name;
  m.graph.nodes.push(
    { op: "Einsum", name: "einsum0", domain: "", inputs: [input], outputs: ["erf_out"], attrs: {} },
    {
      op: "FusedGemm",
      name: "fg0",
      domain: "com.microsoft",
      inputs: [input],
      outputs: ["fg_out"],
      attrs: {},
    },
  );
  return encodeModel(m);
}

const REGISTER = `mutation($file: Upload!, $name: String!) { registerModel(file: $file, name: $name) {
  __typename
  ... on Model { name source inputShape classes parameterCount }
  ... on Error { message }
  ... on ValidationError { field }
  ... on UnsupportedModelError { ops } } }`;

/** A GraphQL multipart request (jaydenseric's spec), as a browser or Apollo upload link sends it. */
async function upload(
  bytes: Uint8Array,
  name: string,
): Promise<{
  status: number;
  body: {
    data?: { registerModel: Record<string, unknown> };
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}> {
  const form = new FormData();
  form.set("operations", JSON.stringify({ query: REGISTER, variables: { file: null, name } }));
  form.set("map", JSON.stringify({ 0: ["variables.file"] }));
  form.set("0", new File([Uint8Array.from(bytes)], `${name}.onnx`, { type: "application/octet-stream" }));
  const res = await h.fetch(new Request("http://test.local/graphql", { method: "POST", body: form }));
  return { status: res.status, body: await res.json() };
}

async function modelCount(): Promise<number> {
  return (await h.db.listModels()).length;
}

describe("registerModel (multipart upload)", () => {
  it("stores a valid ONNX model with the shape, classes and parameter count found by compiling it", async () => {
    const r = await upload(linearBytes(), "my-linear");
    expect(r.body.data?.registerModel).toEqual({
      __typename: "Model",
      name: "my-linear",
      source: "UPLOAD",
      inputShape: [10],
      classes: 2,
      parameterCount: 22,
    });
    const stored = await h.db.findModelByName("my-linear");
    expect((await h.db.modelOnnx(stored?.id ?? -1))?.byteLength).toBe(linearBytes().byteLength);
  });

  it("refuses a model with unsupported ops, listing every one of them, and stores nothing", async () => {
    const before = await modelCount();
    const r = await upload(withUnsupportedOps(), "bad-ops");
    expect(r.body.data?.registerModel).toMatchObject({
      __typename: "UnsupportedModelError",
      ops: ["Einsum", "com.microsoft.FusedGemm"],
    });
    expect(String(r.body.data?.registerModel.message)).toMatch(
      /^unsupported ops: Einsum \(node "einsum0"\), com\.microsoft\.FusedGemm \(node "fg0"\); supported ops: .*Gemm/,
    );
    expect(await modelCount()).toBe(before);
  });

  it("refuses bytes that are not ONNX with a ValidationError on the file", async () => {
    const before = await modelCount();
    const r = await upload(new TextEncoder().encode("definitely not a protobuf \u0000\u00ff"), "garbage");
    expect(r.body.data?.registerModel).toMatchObject({ __typename: "ValidationError", field: "file" });
    expect(String(r.body.data?.registerModel.message)).toMatch(/not a readable ONNX model/);
    expect(await modelCount()).toBe(before);
  });

  it("refuses a file over MAX_UPLOAD_BYTES, a taken name, and a name with odd characters", async () => {
    const big = new Uint8Array(25_000);
    const tooBig = await upload(big, "big");
    expect(tooBig.body.data?.registerModel).toMatchObject({
      __typename: "ValidationError",
      field: "file",
      message: "file is 25000 bytes; the upload limit is 20000 bytes (MAX_UPLOAD_BYTES)",
    });
    const taken = await upload(linearBytes(), "linear");
    expect(taken.body.data?.registerModel).toMatchObject({
      field: "name",
      message: 'a model named "linear" already exists; choose another name',
    });
    const odd = await upload(linearBytes(), "../etc/passwd");
    expect(odd.body.data?.registerModel).toMatchObject({ __typename: "ValidationError", field: "name" });
  });
});

const START = `mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Error { message } ... on ValidationError { field } } }`;

describe("startRun validation (before any run exists)", () => {
  async function start(input: Record<string, unknown>) {
    const r = await h.gql<{ startRun: { __typename: string; message: string; field?: string } }>(START, {
      input,
    });
    return r.data?.startRun;
  }
  const ids = async () => {
    const model = await h.db.findModelByName("linear");
    const dataset = await h.db.findDatasetByName("linear");
    return { model: String(model?.id), dataset: String(dataset?.id) };
  };

  it("names the field and the accepted range for each bad hyperparameter, and creates no run", async () => {
    const base = await ids();
    const runsBefore = (await h.db.listRuns({ first: 1000 })).length;
    expect(await start({ ...base, batchSize: 0 })).toEqual({
      __typename: "ValidationError",
      field: "batchSize",
      message: "batchSize must be an integer between 1 and the training set size 100, got 0",
    });
    expect(await start({ ...base, batchSize: 10, optimizer: { kind: "SGD", lr: -1 } })).toEqual({
      __typename: "ValidationError",
      field: "optimizer.lr",
      message: "optimizer.lr must be a finite number > 0 and ≤ 100, got -1",
    });
    expect(await start({ ...base, batchSize: 10, epochs: 0 })).toMatchObject({ field: "epochs" });
    expect(await start({ ...base, batchSize: 10, k: 5000 })).toMatchObject({ field: "k" });
    expect(await start({ ...base, batchSize: 10, validation: { fraction: 0.9 } })).toMatchObject({
      field: "validation.fraction",
    });
    expect(await start({ ...base, batchSize: 10, optimizer: { kind: "SGD", beta1: 0.5 } })).toMatchObject({
      field: "optimizer.beta1",
      message:
        'optimizer (sgd): unknown field "beta1"; accepted: kind, lr, momentum, dampening, nesterov, weightDecay',
    });
    expect((await h.db.listRuns({ first: 1000 })).length).toBe(runsBefore);
  });

  it("refuses an unknown model, both or neither dataset forms, a bad spec and a dataset the model cannot take", async () => {
    const base = await ids();
    expect(await start({ model: "999", dataset: base.dataset, batchSize: 10 })).toMatchObject({
      __typename: "NotFoundError",
    });
    expect(await start({ model: base.model, batchSize: 10 })).toMatchObject({ field: "dataset" });
    expect(await start({ ...base, datasetSpec: "linear", batchSize: 10 })).toMatchObject({
      field: "dataset",
    });
    expect(await start({ model: base.model, datasetSpec: "nonsense:x=1", batchSize: 10 })).toMatchObject({
      field: "datasetSpec",
    });
    const cnnData = await h.db.findDatasetByName("cnn-dropout");
    expect(await start({ model: base.model, dataset: String(cnnData?.id), batchSize: 10 })).toEqual({
      __typename: "ValidationError",
      field: "dataset",
      message: 'model "linear" takes inputs of shape [10] but the dataset\'s samples have shape [3,32,32]',
    });
  });

  it("refuses an unknown experiment name and lists the known ones", async () => {
    const r = await h.gql<{ startExperiment: { __typename: string; field: string; message: string } }>(
      'mutation { startExperiment(name: "nope") { __typename ... on ValidationError { field message } } }',
    );
    expect(r.data?.startExperiment).toMatchObject({ __typename: "ValidationError", field: "name" });
    expect(r.data?.startExperiment.message).toMatch(
      /^unknown experiment "nope"; known: linear, batch-size, cnn-dropout/,
    );
  });
});

describe("run lifecycle errors", () => {
  it("answers cancel/resume/delete/export of an unknown run with NotFoundError", async () => {
    const r = await h.gql<Record<string, { __typename: string }>>(
      `mutation { c: cancelRun(id: "777") { __typename } r: resumeRun(id: "777") { __typename }
        d: deleteRun(id: "777") { __typename } e: exportModel(runId: "777") { __typename } }`,
    );
    expect(Object.values(r.data ?? {}).map((v) => v.__typename)).toEqual([
      "NotFoundError",
      "NotFoundError",
      "NotFoundError",
      "NotFoundError",
    ]);
  });

  it("gives Run.exportUrl only once the run has a checkpoint, and the deprecated exportModel keeps its old shape", async () => {
    const run = await makeRun(h.db);
    const read = `{ run(id: "${gid("Run", run.id)}") { exportUrl } }`;
    const q = `mutation { exportModel(runId: "${gid("Run", run.id)}") { __typename
      ... on MutationExportModelSuccess { data } ... on ValidationError { field message } } }`;
    expect((await h.gql(read)).data).toEqual({ run: { exportUrl: null } });
    const before = await h.gql<{ exportModel: Record<string, string> }>(q);
    expect(before.data?.exportModel).toEqual({
      __typename: "ValidationError",
      field: "runId",
      message: `run ${run.id} has no checkpoint yet (status QUEUED); export is available once it has trained a chunk`,
    });
    await h.db.saveCheckpoint(run.id, { step: 9, epoch: 0, state: new Uint8Array(8) });
    const url = `http://test.local/exports/run-${run.id}.onnx`;
    expect((await h.gql(read)).data).toEqual({ run: { exportUrl: url } });
    const after = await h.gql<{ exportModel: Record<string, string> }>(q);
    expect(after.data?.exportModel).toEqual({ __typename: "MutationExportModelSuccess", data: url });
  });

  it("answers deleteRun with a DeleteRunPayload naming the deleted run's id, after which the run reads as null", async () => {
    const run = await makeRun(h.db);
    const id = gid("Run", run.id);
    const r = await h.gql<{ deleteRun: Record<string, string> }>(
      `mutation($id: ID!) { deleteRun(id: $id) { __typename ... on DeleteRunPayload { deletedRunId } } }`,
      { id },
    );
    expect(r.data?.deleteRun).toEqual({ __typename: "DeleteRunPayload", deletedRunId: id });
    expect((await h.gql(`{ run(id: "${id}") { id } }`)).data).toEqual({ run: null });
    expect(await h.db.getRun(run.id)).toBeNull();
  });

  it("refuses an id of another type in a mutation with a NotFoundError that names both types", async () => {
    const r = await h.gql<{ cancelRun: Record<string, string> }>(
      `mutation($id: ID!) { cancelRun(id: $id) { __typename ... on NotFoundError { entity id message } } }`,
      { id: gid("Model", 1) },
    );
    expect(r.data?.cancelRun).toEqual({
      __typename: "NotFoundError",
      entity: "run",
      id: gid("Model", 1),
      message: `id "${gid("Model", 1)}" names a Model, not a Run`,
    });
  });
});
