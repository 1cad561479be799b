// Property-based fuzzing (fast-check) of the running server: generated bad inputs thrown at
// registerModel (multipart), startRun (HTTP), dataset file paths that leave DATA_DIR, cross-site
// requests (foreign Origin or Host, simple content types) and the subscriptions (graphql-ws and SSE). Every input is
// built to be invalid in at least one way, so the properties are: every response is a well-formed
// GraphQL error (an `errors` list of messages, or a typed error object in `data`), the server keeps
// answering, and no database row is added, changed in number, or removed. The totals are printed.
import { request } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { decodeModel, encodeModel } from "../../src/graph/onnx.ts";
import { OPS } from "../../src/graph/ops/index.ts";
import { inspectModel } from "../../src/models/inspect.ts";
import { type Live, startLive } from "../helpers/live-server.ts";
import {
  externalDataModel,
  linearBytes,
  linearWithInputDim,
  poolModel,
  reluChain,
  rowCounts,
} from "./hostile-models.ts";

interface GqlError {
  message?: unknown;
}
interface GqlBody {
  data?: Record<string, unknown> | null;
  errors?: GqlError[];
}

const TYPED_ERRORS = new Set(["ValidationError", "NotFoundError", "UnsupportedModelError"]);

/** An `errors` list of non-empty messages and no data, or a typed error object as the root field. */
function isGraphQLError(body: unknown, field?: string): boolean {
  if (typeof body !== "object" || body === null) return false;
  const b = body as GqlBody;
  if (Array.isArray(b.errors) && b.errors.length > 0) {
    return (
      b.errors.every((e) => typeof e.message === "string" && e.message.length > 0) &&
      (b.data === undefined || b.data === null)
    );
  }
  const value = field ? b.data?.[field] : undefined;
  if (typeof value !== "object" || value === null) return false;
  const v = value as { __typename?: unknown; message?: unknown };
  return typeof v.__typename === "string" && TYPED_ERRORS.has(v.__typename) && typeof v.message === "string";
}

let live: Live;
let linearId: string;
let existingRunIds: Set<string>;
let before: Record<string, number>;
const tried = { registerModel: 0, startRun: 0, filePaths: 0, crossSite: 0, graphqlWs: 0, sse: 0 };

async function alive(): Promise<boolean> {
  const res = await fetch(live.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ models { nodes { id } } }" }),
  });
  const models = ((await res.json()) as { data?: { models?: { nodes?: unknown } } }).data?.models;
  return res.status === 200 && Array.isArray(models?.nodes);
}

beforeAll(async () => {
  live = await startLive({ RUN_RATE_LIMIT: "1000000" });
  const db = live.app.db;
  if (!db) throw new Error("no database");
  linearId = String((await db.findModelByName("linear"))?.id);
  modelIds = new Set((await db.listModels()).map((m) => String(m.id)));
  const run = await db.createRun({
    name: "fuzz-target",
    modelId: Number(linearId),
    datasetId: (await db.listDatasets())[0].id,
    hyperparameters: {},
    seed: 0,
    stepsPerChunk: 10,
    totalSteps: 0,
    tags: [],
  });
  existingRunIds = new Set([String(run.id)]);
  before = await rowCounts(live);
});
afterAll(async () => {
  console.log(JSON.stringify({ fuzz: tried, total: Object.values(tried).reduce((a, b) => a + b, 0) }));
  await live.close();
});

// ── registerModel ───────────────────────────────────────────────────────────────────────────────
const REGISTER = `mutation($file: Upload!, $name: String!) { registerModel(file: $file, name: $name) {
  __typename ... on Error { message } } }`;

/** Prefix lengths of linear.onnx that still decode to a valid model (trailing optional fields). */
function validPrefixes(): Set<number> {
  const bytes = linearBytes();
  const ok = new Set<number>();
  for (let n = 0; n <= bytes.length; n++) {
    try {
      inspectModel(bytes.slice(0, n));
      ok.add(n);
    } catch {}
  }
  return ok;
}

const unsupportedOp = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !Object.hasOwn(OPS, s));

/** linear.onnx with its one node's op type replaced (re-encoded, so only the op differs). */
function withOp(op: string, domain: string): Uint8Array {
  const m = decodeModel(linearBytes());
  m.graph.nodes[0] = { ...m.graph.nodes[0], op, domain };
  return encodeModel(m);
}

function badModelArb(prefixOk: Set<number>): fc.Arbitrary<Uint8Array> {
  const full = linearBytes();
  return fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 2048 }),
    fc
      .integer({ min: 0, max: full.length })
      .filter((n) => !prefixOk.has(n))
      .map((n) => full.slice(0, n)),
    fc
      .tuple(fc.integer({ min: 0, max: full.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 64 }))
      .map(([at, junk]) => {
        // Junk spliced into the middle: almost always breaks the protobuf framing; the few that
        // still parse are filtered out below by the same oracle as the prefixes.
        const out = new Uint8Array(full.length + junk.length);
        out.set(full.slice(0, at));
        out.set(junk, at);
        out.set(full.slice(at), at + junk.length);
        return out;
      })
      .filter((b) => {
        try {
          inspectModel(b);
          return false;
        } catch {
          return true;
        }
      }),
    fc.tuple(unsupportedOp, fc.constantFrom("", "com.microsoft", "ai.onnx")).map(([op, d]) => withOp(op, d)),
    fc
      .integer({ min: -(2 ** 40), max: 2 ** 40 })
      .filter((d) => d !== 10)
      .map(linearWithInputDim),
    fc.string({ maxLength: 200 }).map((loc) => externalDataModel(loc)),
    fc
      .tuple(fc.integer({ min: 2400, max: 2 ** 30 }), fc.integer({ min: 2400, max: 2 ** 30 }))
      .map(([h, w]) => poolModel(h, w)),
    // Past MAX_MODEL_NODES (5,000 by default): refused before it is compiled.
    fc.integer({ min: 5_000, max: 6_000 }).map(reluChain),
  );
}

const modelName = fc.oneof(
  fc.integer({ min: 0, max: 1e9 }).map((n) => `fuzz-${n}`),
  fc.string({ maxLength: 300 }),
  fc.constant("x".repeat(5000)),
);

async function register(bytes: Uint8Array, name: string): Promise<{ status: number; body: unknown }> {
  const form = new FormData();
  form.set("operations", JSON.stringify({ query: REGISTER, variables: { file: null, name } }));
  form.set("map", JSON.stringify({ 0: ["variables.file"] }));
  form.set("0", new File([Uint8Array.from(bytes)], "m.onnx"));
  const res = await fetch(live.url, { method: "POST", headers: { "x-graphql-yoga-csrf": "1" }, body: form });
  return { status: res.status, body: await res.json() };
}

// ── startRun ────────────────────────────────────────────────────────────────────────────────────
const START = `mutation($input: StartRunInput!) { startRun(input: $input) { __typename ... on Error { message } } }`;

const nonFinite = fc.constantFrom("NaN", "Infinity", "-Infinity", "1e999", "-1e999");
// Never null, a number or a numeric string: null means "unset" (the default) for optional fields, and
// a number could be in range; so each of these is the wrong type for every Int, Float, ID or enum field.
const weirdScalar = fc.oneof(
  fc.string({ maxLength: 50 }).map((s) => `nope-${s}`),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.record({ a: fc.integer() }),
  fc.constant("x".repeat(100_000)),
);

/** Ids of the models and runs that exist, so a generated id is never a real one. */
const isExistingId = (v: unknown, ids: Set<string>) =>
  (typeof v === "string" || typeof v === "number") &&
  /^\d{1,15}$/.test(String(v)) &&
  ids.has(String(Number(v)));
let modelIds = new Set<string>();

/** A valid input with one field broken (each case is invalid on its own). */
const brokenInput = fc.oneof(
  fc.record({ batchSize: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 1_000_001 }), weirdScalar) }),
  fc
    .record({
      model: fc.oneof(weirdScalar, fc.integer({ min: 1000 }).map(String), fc.integer({ min: 1000 })),
    })
    .filter((r) => !isExistingId(r.model, modelIds)),
  fc.record({
    datasetSpec: fc.oneof(
      fc.string({ maxLength: 80 }).map((s) => `nope:${s}`),
      fc.integer(),
      fc.constant({}),
    ),
  }),
  fc.record({
    optimizer: fc.record({
      kind: fc.constantFrom("SGD", "ADAM"),
      lr: fc.oneof(
        fc.double({ max: -1e-9, noNaN: true, noDefaultInfinity: true }),
        fc.double({ min: 101, noNaN: true, noDefaultInfinity: true }),
        weirdScalar,
      ),
    }),
  }),
  fc.record({ epochs: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 10_001 }), weirdScalar) }),
  fc.record({ k: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 1001 })) }),
  fc.record({ tags: fc.array(fc.string({ minLength: 65, maxLength: 100 }), { minLength: 1, maxLength: 3 }) }),
  fc.record({ name: fc.constant("") }),
  fc.record({ unknownField: weirdScalar }),
  fc.record({ provider: fc.string({ maxLength: 20 }).map((s) => `nope-${s}`) }),
  fc.record({
    schedule: fc.oneof(
      fc.string().map((s) => `nope-${s}`),
      fc.integer(),
      fc.record({ kind: fc.string().map((s) => `nope-${s}`) }),
    ),
  }),
);

/** Replaces numbers in a JSON text with NaN/Infinity spellings JSON.parse accepts or rejects. */
function withNonFinite(text: string, spelling: string): string {
  return text.replace(/"batchSize":10/, `"batchSize":${spelling}`);
}

// ── dataset files outside DATA_DIR ─────────────────────────────────────────────────────────────
const REFUSED_FILE =
  "not a file inside the data directory (DATA_DIR); copy the file there or upload it with the uploadDataset mutation, and name it by its path relative to DATA_DIR";
const segment = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/).filter((s) => s !== "." && s !== "..");
const outsidePath = fc.oneof(
  fc.constantFrom(
    "/etc/passwd",
    "/etc/shadow",
    "/proc/self/environ",
    "/proc/self/cmdline",
    "/",
    "/root/.ssh/id_rsa",
  ),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((p) => `/${p.join("/")}`),
  fc
    .tuple(fc.integer({ min: 1, max: 8 }), fc.array(segment, { maxLength: 3 }))
    .map(([n, p]) => [...Array(n).fill(".."), ...p].join("/")),
  fc.tuple(segment, segment).map(([a, b]) => `${a}/../../${b}`),
  fc.tuple(segment, fc.integer({ min: 1, max: 4 })).map(([a, n]) => `${"..\\".repeat(n)}${a}`),
  segment.map((a) => `${a}\u0000.csv`),
  // Relative names that do not exist in DATA_DIR: refused the same way, so existence does not show.
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((p) => `nope-${p.join("/")}`),
);
const fileSpec = fc.oneof(
  outsidePath.map((path) => ({ field: "path", spec: { kind: "csv", path, labelColumn: 0 } })),
  outsidePath.map((images) => ({ field: "images", spec: { kind: "idx", images, labels: images } })),
  outsidePath.map((f) => ({ field: "files[0]", spec: { kind: "cifar10", files: [f] } })),
);

// ── cross-site requests ─────────────────────────────────────────────────────────────────────────
const foreignName = fc.domain().filter((d) => !["localhost", "127.0.0.1"].includes(d.toLowerCase()));
const crossSite = fc.oneof(
  foreignName.map((d) => ({ origin: `https://${d}`, "content-type": "application/json" })),
  fc
    .tuple(foreignName, fc.integer({ min: 1, max: 65535 }))
    .map(([d, p]) => ({ host: `${d}:${p}`, "content-type": "application/json" })),
  fc
    .constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "")
    .map((t): Record<string, string> => (t ? { "content-type": t } : {})),
);

function rawPost(headers: Record<string, string>, body: string): Promise<{ status: number; body: unknown }> {
  const url = new URL(live.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: "POST", path: url.pathname, headers },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

// ── subscriptions ───────────────────────────────────────────────────────────────────────────────
const SUBS = [
  "subscription($runId: ID!, $afterStep: Int) { batchMetrics(runId: $runId, afterStep: $afterStep) { lastStep } }",
  "subscription($runId: ID!) { runEvents(runId: $runId) { __typename } }",
];

const badRunId = fc
  .oneof(
    fc.string({ maxLength: 40 }),
    fc.integer({ min: -5, max: 1e9 }).map(String),
    fc.constant("1".repeat(40)),
  )
  .filter((id) => !isExistingId(id, existingRunIds));

const badSubscription = fc.oneof(
  fc.record({
    query: fc.constant(SUBS[0]),
    variables: fc.record({ runId: badRunId, afterStep: fc.integer({ min: -1, max: 100 }) }),
  }),
  fc.record({ query: fc.constant(SUBS[1]), variables: fc.record({ runId: badRunId }) }),
  fc.record({
    query: fc.constant(SUBS[0]),
    variables: fc.record({
      runId: fc.constant("RUN"),
      afterStep: fc.oneof(
        fc.integer({ max: -2 }),
        fc.double({ noInteger: true }),
        fc.string(),
        fc.constant(2 ** 40),
      ),
    }),
  }),
  fc.record({
    query: fc.string({ maxLength: 200 }).map((s) => `subscription { ${s}`),
    variables: fc.constant({}),
  }),
  fc.record({
    query: fc.constant(SUBS[0]),
    variables: fc.record({ runId: weirdScalar.filter((v) => typeof v !== "string") }),
  }),
);

/** One graphql-ws socket reused for every subscription; each id's first answer is returned. */
class WsProbe {
  private socket!: WebSocket;
  private next = 0;
  private waiting = new Map<string, (msg: { type: string; payload?: unknown }) => void>();
  closed: number | null = null;

  async open(url: string): Promise<void> {
    this.socket = new WebSocket(url, "graphql-transport-ws");
    await new Promise<void>((resolve, reject) => {
      this.socket.on("open", () => this.socket.send(JSON.stringify({ type: "connection_init" })));
      this.socket.on("message", (data) => {
        const msg = JSON.parse(String(data)) as { type: string; id?: string; payload?: unknown };
        if (msg.type === "connection_ack") resolve();
        if (msg.id && this.waiting.has(msg.id)) {
          this.waiting.get(msg.id)?.(msg);
          this.waiting.delete(msg.id);
        }
      });
      this.socket.on("close", (code) => {
        this.closed = code;
        for (const w of this.waiting.values()) w({ type: "closed", payload: code });
        reject(new Error(`closed ${code}`));
      });
    });
  }

  ask(payload: { query: string; variables: unknown }): Promise<{ type: string; payload?: unknown }> {
    const id = String(this.next++);
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.socket.send(JSON.stringify({ id, type: "subscribe", payload }));
    });
  }

  close(): void {
    this.socket.close(1000);
  }
}

function wsAnswerIsError(msg: { type: string; payload?: unknown }): boolean {
  if (msg.type === "error") {
    return (
      Array.isArray(msg.payload) &&
      msg.payload.length > 0 &&
      msg.payload.every((e: GqlError) => typeof e.message === "string" && e.message.length > 0)
    );
  }
  return msg.type === "next" && isGraphQLError(msg.payload);
}

async function sseAnswer(payload: { query: string; variables: unknown }): Promise<unknown> {
  const res = await fetch(live.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(payload),
  });
  const text = await res.text();
  if (!(res.headers.get("content-type") ?? "").includes("text/event-stream")) return JSON.parse(text);
  const data = /^data: (.*)$/m.exec(text);
  return data ? JSON.parse(data[1]) : null;
}

// ── the properties ──────────────────────────────────────────────────────────────────────────────
describe("fuzzing the running server with generated bad inputs", () => {
  it("answers 400 bad registerModel uploads with GraphQL errors, storing nothing", async () => {
    const arb = fc.tuple(badModelArb(validPrefixes()), modelName);
    await fc.assert(
      fc.asyncProperty(arb, async ([bytes, name]) => {
        tried.registerModel++;
        const r = await register(bytes, name);
        expect(isGraphQLError(r.body, "registerModel"), JSON.stringify(r.body).slice(0, 500)).toBe(true);
      }),
      { numRuns: 400, seed: 8 },
    );
    expect(await alive()).toBe(true);
    expect(await rowCounts(live)).toEqual(before);
  });

  it("answers 500 bad startRun inputs with GraphQL errors, creating no run", async () => {
    const arb = fc.tuple(brokenInput, fc.option(nonFinite, { nil: undefined }));
    await fc.assert(
      fc.asyncProperty(arb, async ([broken, spelling]) => {
        tried.startRun++;
        const input = { model: linearId, datasetSpec: "linear", batchSize: 10, ...broken };
        let body = JSON.stringify({ query: START, variables: { input } });
        if (spelling && !("batchSize" in broken)) body = withNonFinite(body, spelling);
        const res = await fetch(live.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const json: unknown = await res.json();
        expect(
          isGraphQLError(json, "startRun"),
          `${body.slice(0, 300)} → ${JSON.stringify(json).slice(0, 300)}`,
        ).toBe(true);
      }),
      { numRuns: 500, seed: 8 },
    );
    expect(await alive()).toBe(true);
    expect(await rowCounts(live)).toEqual(before);
  });

  it("refuses 300 generated dataset paths outside DATA_DIR with one message, creating nothing", async () => {
    await fc.assert(
      fc.asyncProperty(fileSpec, async ({ field, spec }) => {
        tried.filePaths++;
        const input = { model: linearId, datasetSpec: spec, batchSize: 10 };
        const r = await live.gql<{ startRun: { __typename: string; message?: string } }>(
          `mutation($input: StartRunInput!) { startRun(input: $input) { __typename ... on Error { message } } }`,
          { input },
        );
        expect(r.data?.startRun, JSON.stringify(spec)).toEqual({
          __typename: "ValidationError",
          message: `dataset.${field}: ${REFUSED_FILE}`,
        });
      }),
      { numRuns: 300, seed: 8 },
    );
    expect(await alive()).toBe(true);
    expect(await rowCounts(live)).toEqual(before);
  });

  it("refuses 200 generated cross-site mutations (foreign Origin or Host, simple content types) with 403", async () => {
    const body = JSON.stringify({ query: 'mutation { startExperiment(name: "linear") { __typename } }' });
    await fc.assert(
      fc.asyncProperty(crossSite, async (headers) => {
        tried.crossSite++;
        const r = await rawPost(headers, body);
        expect(r.status, JSON.stringify(headers)).toBe(403);
        const code = (r.body as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code;
        expect(["FORBIDDEN_ORIGIN", "FORBIDDEN_HOST", "FORBIDDEN_CONTENT_TYPE"]).toContain(code);
      }),
      { numRuns: 200, seed: 8 },
    );
    expect(await alive()).toBe(true);
    expect(await rowCounts(live)).toEqual(before);
  });

  it("answers 300 bad graphql-ws subscriptions with errors on one socket that stays open", async () => {
    const ws = new WsProbe();
    await ws.open(live.wsUrl);
    const runId = [...existingRunIds][0];
    await fc.assert(
      fc.asyncProperty(badSubscription, async (sub) => {
        tried.graphqlWs++;
        const vars = sub.variables as Record<string, unknown>;
        const payload = { query: sub.query, variables: vars.runId === "RUN" ? { ...vars, runId } : vars };
        const answer = await ws.ask(payload);
        expect(
          wsAnswerIsError(answer),
          `${JSON.stringify(payload).slice(0, 300)} → ${JSON.stringify(answer)}`,
        ).toBe(true);
      }),
      { numRuns: 300, seed: 8 },
    );
    expect(ws.closed).toBeNull();
    ws.close();
    expect(await alive()).toBe(true);
  });

  it("answers 100 bad SSE subscriptions with errors", async () => {
    const runId = [...existingRunIds][0];
    await fc.assert(
      fc.asyncProperty(badSubscription, async (sub) => {
        tried.sse++;
        const vars = sub.variables as Record<string, unknown>;
        const answer = await sseAnswer({
          query: sub.query,
          variables: vars.runId === "RUN" ? { ...vars, runId } : vars,
        });
        expect(isGraphQLError(answer), JSON.stringify(answer).slice(0, 300)).toBe(true);
      }),
      { numRuns: 100, seed: 8 },
    );
    expect(await alive()).toBe(true);
    expect(await rowCounts(live)).toEqual(before);
    expect(Object.values(tried).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1_000);
  });
});
