// Hostile input against the real server: malformed, truncated, external-data and absurd-shape ONNX
// files, wrong-type variables, huge strings, invalid cursors and NaN/Infinity hyperparameters. Each gets
// a clear GraphQL error, the server keeps serving, and no database row changes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbId } from "../helpers/ids.ts";
import { type Live, startLive } from "../helpers/live-server.ts";
import {
  externalDataModel,
  linearBytes,
  linearWithInputDim,
  lyingInitializer,
  poolModel,
  rowCounts,
} from "./hostile-models.ts";

interface GqlError {
  message: string;
  extensions?: Record<string, unknown>;
}
/** The data of a response that must have some (throws with the errors otherwise). */
function root(body: GqlBody): Record<string, unknown> {
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

interface GqlBody {
  data?: Record<string, unknown> | null;
  errors?: GqlError[];
}

let live: Live;
let linearId: string;
let runId: string;
let counts: Record<string, number>;

async function post(
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; body: GqlBody }> {
  const res = await fetch(live.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as GqlBody };
}

async function postRaw(body: string): Promise<{ status: number; body: GqlBody }> {
  const res = await fetch(live.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  return { status: res.status, body: (await res.json()) as GqlBody };
}

const REGISTER = `mutation($file: Upload!, $name: String!) { registerModel(file: $file, name: $name) {
  __typename ... on Error { message } ... on ValidationError { field } ... on UnsupportedModelError { ops } } }`;

async function upload(bytes: Uint8Array, name: string): Promise<Record<string, unknown>> {
  const form = new FormData();
  form.set("operations", JSON.stringify({ query: REGISTER, variables: { file: null, name } }));
  form.set("map", JSON.stringify({ 0: ["variables.file"] }));
  form.set("0", new File([Uint8Array.from(bytes)], `${name}.onnx`));
  const res = await fetch(live.url, { method: "POST", headers: { "x-graphql-yoga-csrf": "1" }, body: form });
  const body = (await res.json()) as GqlBody;
  if (!body.data) throw new Error(JSON.stringify(body));
  return body.data.registerModel as Record<string, unknown>;
}

const START = `mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id } ... on Error { message } ... on ValidationError { field } } }`;

beforeAll(async () => {
  live = await startLive();
  const db = live.app.db;
  if (!db) throw new Error("no database");
  linearId = String((await db.findModelByName("linear"))?.id);
  // One finished run, so cursors and history have something to page over.
  const started = await post(START, { input: { model: linearId, datasetSpec: "linear", batchSize: 10 } });
  runId = (root(started.body).startRun as { id: string }).id;
  for (let i = 0; i < 200; i++) {
    const run = await db.getRun(dbId(runId));
    if (run?.status === "COMPLETED") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  counts = await rowCounts(live);
});
afterAll(() => live.close());

describe("hostile ONNX uploads", () => {
  it("names a truncated file as unreadable and stores nothing", async () => {
    const r = await upload(linearBytes().slice(0, 60), "truncated");
    expect(r).toMatchObject({ __typename: "ValidationError", field: "file" });
    expect(r.message).toMatch(
      /^the file is not a readable ONNX model \(not a valid ONNX model: .*\); upload a ModelProto/,
    );
  });

  it("names garbage bytes and an empty file as unreadable", async () => {
    const garbage = await upload(
      Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256),
      "garbage",
    );
    const empty = await upload(new Uint8Array(0), "empty");
    expect(garbage).toMatchObject({ __typename: "ValidationError", field: "file" });
    expect(empty).toMatchObject({ __typename: "ValidationError", field: "file" });
    expect(String(empty.message)).toMatch(/no graph or no ir_version/);
  });

  it("refuses weights stored as external data without reading the referenced path", async () => {
    const r = await upload(externalDataModel("/etc/passwd"), "external");
    expect(r).toMatchObject({ __typename: "ValidationError", field: "file" });
    expect(r.message).toMatch(
      /tensor "fc\.weight" uses external data, which is not supported: embed the weights/,
    );
  });

  it("refuses an initializer whose dims its data does not fill", async () => {
    const r = await upload(lyingInitializer(), "lying");
    expect(r.message).toMatch(/tensor "fc\.weight" has 20 values for dims \[2147483648,2147483648\]/);
  });

  it("refuses absurd input shapes: too large for any batch, or not matching the weights", async () => {
    const huge = await upload(poolModel(2 ** 20, 2 ** 20), "huge-images");
    expect(huge).toEqual({
      __typename: "ValidationError",
      field: "file",
      message:
        "one input sample of shape [3,1048576,1048576] has 3298534883328 elements; batchSize × input size may be at most 16777216 (MAX_BATCH_ELEMENTS)",
    });
    // A declared size past the limit is refused before compiling, whatever else is wrong with it.
    const absurd = await upload(linearWithInputDim(2 ** 40), "absurd");
    expect(absurd).toEqual({
      __typename: "ValidationError",
      field: "file",
      message:
        "one input sample of shape [1099511627776] has 1099511627776 elements; batchSize × input size may be at most 16777216 (MAX_BATCH_ELEMENTS)",
    });
    const mismatch = await upload(linearWithInputDim(11), "mismatch");
    expect(mismatch.__typename).toBe("UnsupportedModelError");
    expect(mismatch.message).toMatch(/Gemm inner dimensions differ: A is \[N,11\], B is \[2,10\]/);
    const negative = await upload(linearWithInputDim(-10), "negative");
    expect(negative.message).toMatch(/must have shape \[batch, \.\.\.static dims\], got \[batch,-10\]/);
  });

  it("still accepts the same architecture at a sane size (the limit, not the op, refused it)", async () => {
    const ok = await upload(poolModel(8, 8), "small-images");
    expect(ok).toEqual({ __typename: "Model" });
    await live.app.db?.prisma.model.delete({ where: { name: "small-images" } });
  });
});

describe("hostile variables and arguments", () => {
  it("refuses wrong-type variables with a coercion error that names the field", async () => {
    const r = await post(START, { input: { model: linearId, datasetSpec: "linear", batchSize: "ten" } });
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors?.[0].message).toMatch(
      /Variable "\$input" got invalid value "ten" at "input.batchSize"; Int cannot represent non-integer value: "ten"/,
    );
    const file = await post(REGISTER, { file: "not-a-file", name: "x" });
    expect(file.body.errors?.[0].message).toMatch(/Upload must be a file sent as multipart\/form-data/);
  });

  it("refuses NaN and Infinity hyperparameters, whether sent as numbers or strings", async () => {
    const infinite = await postRaw(
      `{"query":${JSON.stringify(START)},"variables":{"input":{"model":"${linearId}","datasetSpec":"linear","batchSize":10,"optimizer":{"kind":"SGD","lr":1e999}}}}`,
    );
    expect(infinite.body.errors?.[0].message).toMatch(/Float cannot represent non numeric value: Infinity/);
    const nan = await post(START, {
      input: { model: linearId, datasetSpec: "linear", batchSize: 10, optimizer: { kind: "SGD", lr: "NaN" } },
    });
    expect(nan.body.errors?.[0].message).toMatch(/Float cannot represent non numeric value: "NaN"/);
    const literal = await post(
      `mutation { startRun(input: { model: "${linearId}", datasetSpec: "linear", batchSize: 10, optimizer: { kind: SGD, lr: NaN } }) { __typename } }`,
    );
    expect(literal.body.errors?.[0].message).toMatch(/Float cannot represent non numeric value: NaN/);
    const inJson = await postRaw(
      `{"query":${JSON.stringify(START)},"variables":{"input":{"model":"${linearId}","datasetSpec":{"kind":"blobs","samples":1e999,"shape":[10],"classes":2},"batchSize":10}}}`,
    );
    const run = inJson.body.data?.startRun as { __typename: string; message: string; field: string };
    expect(run.__typename).toBe("ValidationError");
    expect(run.field).toBe("datasetSpec");
  });

  it("refuses huge strings: an oversized body with 413, a long name by its rule", async () => {
    const body = await post(START, {
      input: { model: linearId, datasetSpec: "x".repeat(2_000_000), batchSize: 10 },
    });
    expect(body.status).toBe(413);
    expect(body.body.errors?.[0].extensions?.code).toBe("PAYLOAD_TOO_LARGE");
    const name = await post(START, {
      input: { model: linearId, datasetSpec: "linear", batchSize: 10, name: "n".repeat(100_000) },
    });
    expect(name.body.data?.startRun).toMatchObject({ __typename: "ValidationError", field: "name" });
    const spec = await post(START, {
      input: { model: linearId, datasetSpec: "y".repeat(500_000), batchSize: 10 },
    });
    expect(spec.body.data?.startRun).toMatchObject({ __typename: "ValidationError", field: "datasetSpec" });
    expect(String((root(spec.body).startRun as { message: string }).message).length).toBeLessThan(2_000);
  });

  it("refuses cursors the server did not issue", async () => {
    for (const after of [
      "garbage",
      "",
      Buffer.from(`step:${"9".repeat(20)}`).toString("base64url"),
      "x".repeat(10_000),
      "\u0000\uffff",
    ]) {
      const r = await post(
        `query($id: ID!, $after: String) { run(id: $id) { ... on Run { batchMetrics(first: 5, after: $after) { edges { cursor } } } } }`,
        { id: runId, after },
      );
      const runs = await post(
        `query($after: String) { runs(first: 5, after: $after) { edges { cursor } } }`,
        {
          after,
        },
      );
      for (const res of [r, runs]) {
        expect(res.body.errors?.[0].message).toBe("after is not a cursor this connection issued");
      }
    }
  });

  it("answers a malformed id with null and an error naming it, and an unknown one with null", async () => {
    for (const id of ["0", "-1", "1e3", "99999999999999999999", "abc", " 1"]) {
      const r = await post(`query($id: ID!) { run(id: $id) { __typename } }`, { id });
      expect(r.body.data?.run).toBeNull();
      expect(r.body.errors?.[0].message).toContain(`unknown run id ${JSON.stringify(id)}`);
    }
    const unknown = await post(`query($id: ID!) { run(id: $id) { __typename } }`, { id: "999999999" });
    expect(unknown.body).toEqual({ data: { run: null } });
  });
});

describe("after all of it", () => {
  it("keeps serving, with every table's row count unchanged", async () => {
    const r = await post("{ models { nodes { name } } }");
    expect((root(r.body).models as { nodes: unknown[] }).nodes.length).toBe(counts.models);
    expect(await rowCounts(live)).toEqual(counts);
  });
});
