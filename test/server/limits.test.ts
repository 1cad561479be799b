// Every limit against the real server, each set low through its environment variable: query depth,
// cost, tokens and aliases (GraphQL Armor), request size, `first`/`maxPoints`, model parameters and
// input size, batchSize × input size, the per-token startRun rate (in memory and through Redis), operations per graphql-ws
// connection and the connection-init timeout. Each refusal is a clear error naming the setting, and
// the server keeps answering.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startRedis, stopProc } from "../../scripts/cluster.ts";
import { createToken } from "../../src/db/tokens.ts";
import { MODELS_DIR } from "../../src/server/app.ts";
import { loadConfig } from "../../src/server/config.ts";
import { createRateLimiter } from "../../src/server/limits.ts";
import { type GqlBody, postGql } from "../helpers/gql.ts";
import { type Live, startLive } from "../helpers/live-server.ts";
import { reluChain } from "./hostile-models.ts";

/** The data of a response that must have some (throws with the errors otherwise). */
function root(body: GqlBody): Record<string, unknown> {
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const post = (url: string, query: string, variables = {}, token?: string) =>
  postGql(url, query, variables, { token });

const ALIVE = "{ models { nodes { name } } }";

async function alive(url: string, token?: string): Promise<boolean> {
  const r = await post(url, ALIVE, {}, token);
  return Array.isArray((r.body.data?.models as { nodes?: unknown } | undefined)?.nodes);
}

describe("query-shape limits (GraphQL Armor) and request size", () => {
  let live: Live;
  beforeAll(async () => {
    live = await startLive({
      MAX_QUERY_DEPTH: "4",
      MAX_QUERY_COST: "60",
      MAX_QUERY_TOKENS: "120",
      MAX_QUERY_ALIASES: "3",
      MAX_REQUEST_BYTES: "2048",
    });
  });
  afterAll(() => live.close());

  it("refuses a query deeper than MAX_QUERY_DEPTH", async () => {
    const r = await post(live.url, "{ runs { edges { node { model { name } } } } }");
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors?.[0].message).toMatch(/Query depth limit of 4 exceeded, found 5/);
    expect(await alive(live.url)).toBe(true);
  });

  it("refuses a query costlier than MAX_QUERY_COST", async () => {
    // Armor multiplies a selection's cost by a literal `first`: (2 + 1.5·(2 + 1.5·(2 + 1.5·1)))·50.
    const r = await post(live.url, "{ runs(first: 50) { edges { node { id } } } }");
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors?.[0].message).toMatch(/Query Cost limit of 60 exceeded, found 643/);
    const cheap = await post(live.url, "{ runs(first: 2) { edges { node { id } } } }");
    expect(cheap.body.errors).toBeUndefined();
  });

  it("refuses a document with more than MAX_QUERY_TOKENS tokens before building it", async () => {
    const r = await post(live.url, `{ ${"__typename ".repeat(130)}}`);
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors?.[0].message).toMatch(/Token limit of 120 exceeded/);
  });

  it("refuses more than MAX_QUERY_ALIASES aliases", async () => {
    const r = await post(
      live.url,
      "{ a: models { totalCount } b: models { totalCount } c: models { totalCount } d: models { totalCount } }",
    );
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors?.[0].message).toMatch(/Aliases limit of 3 exceeded, found 4/);
  });

  it("refuses a request body over MAX_REQUEST_BYTES with 413 before reading it", async () => {
    const r = await post(live.url, ALIVE, { pad: "x".repeat(4000) });
    expect(r.status).toBe(413);
    expect(r.body.errors?.[0]).toEqual({
      message: expect.stringMatching(
        /the request body is \d+ bytes; the limit is 2048 bytes \(MAX_REQUEST_BYTES\)/,
      ),
      extensions: { code: "PAYLOAD_TOO_LARGE" },
    });
    expect(await alive(live.url)).toBe(true);
  });

  it("applies the same limits over graphql-ws without closing the socket", async () => {
    const messages = await new Promise<{ type: string; id?: string; payload?: unknown }[]>(
      (resolve, reject) => {
        const socket = new WebSocket(live.wsUrl, "graphql-transport-ws");
        const seen: { type: string; id?: string; payload?: unknown }[] = [];
        socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init" })));
        socket.on("message", (data) => {
          const msg = JSON.parse(String(data)) as { type: string; id?: string };
          seen.push(msg);
          if (msg.type === "connection_ack") {
            socket.send(
              JSON.stringify({
                id: "deep",
                type: "subscribe",
                payload: { query: "{ runs { edges { node { model { name } } } } }" },
              }),
            );
            socket.send(
              JSON.stringify({ id: "syntax", type: "subscribe", payload: { query: "{ models { " } }),
            );
            socket.send(JSON.stringify({ id: "ok", type: "subscribe", payload: { query: ALIVE } }));
          }
          if (msg.type === "complete" && msg.id === "ok") socket.close(1000);
        });
        socket.on("close", () => resolve(seen));
        socket.on("error", reject);
      },
    );
    const byId = (id: string) => messages.find((m) => m.id === id && m.type !== "complete");
    expect(byId("deep")?.type).toBe("error");
    expect(JSON.stringify(byId("deep")?.payload)).toMatch(/Query depth limit of 4 exceeded/);
    expect(byId("syntax")?.type).toBe("error");
    expect(JSON.stringify(byId("syntax")?.payload)).toMatch(/Syntax Error/);
    expect(byId("ok")).toMatchObject({
      type: "next",
      payload: { data: { models: { nodes: expect.any(Array) } } },
    });
  });
});

describe("resource limits", () => {
  let live: Live;
  let tokenA: string;
  let tokenB: string;
  let linearId: string;
  let runId: string;

  beforeAll(async () => {
    live = await startLive({
      GRADSTREAM_AUTH: "required",
      MAX_PAGE_SIZE: "50",
      MAX_POINTS: "20",
      MAX_MODEL_PARAMETERS: "10",
      MAX_MODEL_NODES: "20",
      MAX_BATCH_ELEMENTS: "100",
      RUN_RATE_LIMIT: "3",
      RUN_RATE_WINDOW_MS: "600000",
      MAX_SUBSCRIPTIONS_PER_CONNECTION: "2",
      WS_INIT_TIMEOUT_MS: "300",
      MAX_UPLOAD_BYTES: "5000",
    });
    const db = live.app.db;
    if (!db) throw new Error("no database");
    tokenA = (await createToken(db, { name: "a", scope: "write" })).token;
    tokenB = (await createToken(db, { name: "b", scope: "write" })).token;
    linearId = String((await db.findModelByName("linear"))?.id);
  });
  afterAll(() => live.close());

  const START = `mutation($input: StartRunInput!) { startRun(input: $input) {
    __typename ... on Run { id } ... on Error { message } ... on ValidationError { field } } }`;
  const start = (batchSize: number, token: string) =>
    post(live.url, START, { input: { model: linearId, datasetSpec: "linear", batchSize } }, token);

  it("refuses batchSize × input size over MAX_BATCH_ELEMENTS, naming both", async () => {
    const before = await live.app.db?.prisma.run.count();
    const r = await start(11, tokenA);
    expect(r.body.data?.startRun).toEqual({
      __typename: "ValidationError",
      field: "batchSize",
      message:
        "batchSize 11 × input size 10 = 110 elements; the limit is 100 (MAX_BATCH_ELEMENTS): use a smaller batch",
    });
    expect(await live.app.db?.prisma.run.count()).toBe(before);
  });

  it("rate-limits startRun per token with RATE_LIMITED (429) while other tokens carry on", async () => {
    // tokenA spent one call on the refused batch above (every call counts).
    const ok1 = await start(10, tokenA);
    const ok2 = await start(10, tokenA);
    const limited = await start(10, tokenA);
    const other = await start(10, tokenB);
    expect([ok1, ok2].map((r) => (root(r.body).startRun as { __typename: string }).__typename)).toEqual([
      "Run",
      "Run",
    ]);
    runId = (root(ok1.body).startRun as { id: string }).id;
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(limited.body.errors?.[0].extensions).toMatchObject({
      code: "RATE_LIMITED",
      retryAfterMs: expect.any(Number),
    });
    expect(limited.body.errors?.[0].message).toMatch(
      /at most 3 startRun\/startExperiment\/createRun calls per 600000 ms per token, or per client address without one \(RUN_RATE_LIMIT, RUN_RATE_WINDOW_MS\)/,
    );
    expect((root(other.body).startRun as { __typename: string }).__typename).toBe("Run");
  });

  it("refuses first over MAX_PAGE_SIZE and maxPoints over MAX_POINTS", async () => {
    const r = await post(
      live.url,
      `query($id: ID!) { run(id: $id) { ... on Run { batchMetrics(first: 51) { edges { cursor } } } } }`,
      { id: runId },
      tokenA,
    );
    expect(r.body.errors?.[0].message).toBe("first must be an integer from 1 to 50, got 51");
    const h = await post(
      live.url,
      `query($id: ID!) { run(id: $id) { ... on Run { history(maxPoints: 21) { bucketWidth } } } }`,
      { id: runId },
      tokenA,
    );
    expect(h.body.errors?.[0].message).toBe("maxPoints must be from 1 to 20, got 21");
    // Sweep.compare checks the same MAX_POINTS in force (it once checked a constant 10,000).
    const sweep = await post(
      live.url,
      `mutation($m: ID!) { startSweep(input: { model: $m, datasetSpec: "linear", base: { batchSize: 10, epochs: 1 },
        strategy: GRID, space: { seed: [0] } }) { __typename ... on Sweep { id } ... on Error { message } } }`,
      { m: linearId },
      tokenA,
    );
    const sweepId = (root(sweep.body).startSweep as { id: string }).id;
    const compare = (maxPoints: number) =>
      post(
        live.url,
        `query($id: ID!) { sweep(id: $id) { ... on Sweep { compare(maxPoints: ${maxPoints}) { points { step } } } } }`,
        { id: sweepId },
        tokenA,
      );
    expect((await compare(21)).body.errors?.[0]).toMatchObject({
      message: "maxPoints must be from 1 to 20, got 21",
      extensions: { code: "BAD_USER_INPUT", field: "maxPoints" },
    });
    expect((await compare(20)).body.errors).toBeUndefined();
    const ok = await post(
      live.url,
      `query($id: ID!) { run(id: $id) { ... on Run { batchMetrics(first: 50) { edges { cursor } } } } }`,
      { id: runId },
      tokenA,
    );
    expect(ok.body.errors).toBeUndefined();
  });

  async function upload(bytes: Uint8Array, name: string): Promise<{ status: number; body: GqlBody }> {
    const form = new FormData();
    form.set(
      "operations",
      JSON.stringify({
        query: `mutation($file: Upload!, $name: String!) { registerModel(file: $file, name: $name) {
          __typename ... on Error { message } ... on ValidationError { field } } }`,
        variables: { file: null, name },
      }),
    );
    form.set("map", JSON.stringify({ 0: ["variables.file"] }));
    form.set("0", new File([Uint8Array.from(bytes)], `${name}.onnx`));
    const res = await fetch(live.url, {
      method: "POST",
      headers: { authorization: `Bearer ${tokenB}`, "x-graphql-yoga-csrf": "1" },
      body: form,
    });
    return { status: res.status, body: (await res.json()) as GqlBody };
  }

  it("refuses a model with more than MAX_MODEL_PARAMETERS parameters and stores nothing", async () => {
    const before = await live.app.db?.prisma.model.count();
    const r = await upload(new Uint8Array(readFileSync(join(MODELS_DIR, "linear.onnx"))), "too-many-params");
    expect(r.body.data?.registerModel).toEqual({
      __typename: "ValidationError",
      field: "file",
      message: "the model has 22 parameters; the limit is 10 (MAX_MODEL_PARAMETERS)",
    });
    expect(await live.app.db?.prisma.model.count()).toBe(before);
  });

  it("refuses a model with more than MAX_MODEL_NODES nodes before compiling it", async () => {
    const before = await live.app.db?.prisma.model.count();
    const r = await upload(reluChain(30), "long-chain");
    expect(root(r.body).registerModel).toEqual({
      __typename: "ValidationError",
      field: "file",
      message: "the model has 31 nodes; the limit is 20 (MAX_MODEL_NODES)",
    });
    expect(await live.app.db?.prisma.model.count()).toBe(before);
  });

  it("refuses an upload over MAX_UPLOAD_BYTES with 413", async () => {
    // The multipart envelope gets 64 KiB of slack over the file limit before the early 413.
    const r = await upload(new Uint8Array(100_000), "too-big");
    expect(r.status).toBe(413);
    expect(r.body.errors?.[0].extensions?.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("gives the operation past MAX_SUBSCRIPTIONS_PER_CONNECTION an error and keeps the others", async () => {
    const seen = await new Promise<{ type: string; id?: string; payload?: unknown }[]>((resolve, reject) => {
      const socket = new WebSocket(live.wsUrl, "graphql-transport-ws");
      const messages: { type: string; id?: string; payload?: unknown }[] = [];
      socket.on("open", () =>
        socket.send(
          JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${tokenA}` } }),
        ),
      );
      socket.on("message", (data) => {
        const msg = JSON.parse(String(data)) as { type: string; id?: string };
        messages.push(msg);
        if (msg.type === "connection_ack") {
          for (const id of ["s1", "s2", "s3"]) {
            socket.send(
              JSON.stringify({
                id,
                type: "subscribe",
                payload: { query: "subscription { runsChanged { kind } }" },
              }),
            );
          }
        }
        if (msg.type === "error") {
          // The refused one answered; the first two are still open: end one and use the freed slot.
          socket.send(JSON.stringify({ id: "s1", type: "complete" }));
          socket.send(JSON.stringify({ id: "q", type: "subscribe", payload: { query: ALIVE } }));
        }
        if (msg.type === "complete" && msg.id === "q") socket.close(1000);
      });
      socket.on("close", () => resolve(messages));
      socket.on("error", reject);
    });
    const errors = seen.filter((m) => m.type === "error");
    expect(errors.map((m) => m.id)).toEqual(["s3"]);
    expect(JSON.stringify(errors[0].payload)).toMatch(
      /already runs 2 operations \(MAX_SUBSCRIPTIONS_PER_CONNECTION\).*TOO_MANY_SUBSCRIPTIONS/,
    );
    expect(seen.find((m) => m.id === "q")?.type).toBe("next");
  });

  it("closes a graphql-ws socket that sends no connection_init within WS_INIT_TIMEOUT_MS with 4408", async () => {
    const closed = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(live.wsUrl, "graphql-transport-ws");
      socket.on("close", (code) => resolve(code));
      socket.on("error", reject);
    });
    expect(closed).toBe(4408);
    expect(await alive(live.url, tokenA)).toBe(true);
  });
});

describe("the rate limiter", () => {
  it("allows limit calls per window per key, then says how long to wait", async () => {
    const limiter = await createRateLimiter(2, 60_000);
    const first = [await limiter.take("a"), await limiter.take("a"), await limiter.take("b")];
    const wait = await limiter.take("a");
    expect(first).toEqual([0, 0, 0]);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60_000);
    await limiter.close();
  });

  it("shares one count between processes through Redis when REDIS_URL is set", async () => {
    const { proc: redis, url } = await startRedis();
    try {
      // Two limiters stand for two API processes: calls through either count against one window.
      const one = await createRateLimiter(3, 60_000, url);
      const two = await createRateLimiter(3, 60_000, url);
      const calls = [await one.take("token:1"), await two.take("token:1"), await one.take("token:1")];
      const fourth = await two.take("token:1");
      const otherKey = await two.take("token:2");
      await Promise.all([one.close(), two.close()]);
      expect(calls).toEqual([0, 0, 0]);
      expect(fourth).toBeGreaterThan(0);
      expect(otherKey).toBe(0);
    } finally {
      await stopProc(redis);
    }
  });

  it("keeps counting in this process, without crashing it, while Redis is down", async () => {
    const { proc: redis, url } = await startRedis();
    const limiter = await createRateLimiter(2, 60_000, url);
    try {
      expect(await limiter.take("token:1")).toBe(0);
      redis.child.kill("SIGKILL");
      await redis.exited;
      // ioredis now emits "error" on every reconnect attempt: unhandled, that would end this process.
      await new Promise((r) => setTimeout(r, 300));
      // The in-memory insurance limiter answers: the same limit, counted here.
      const calls = [
        await limiter.take("token:1"),
        await limiter.take("token:1"),
        await limiter.take("token:1"),
      ];
      expect(calls.slice(0, 2)).toEqual([0, 0]);
      expect(calls[2]).toBeGreaterThan(0);
    } finally {
      await limiter.close();
      if (redis.child.exitCode === null && redis.child.signalCode === null) await stopProc(redis);
    }
  });
});

describe("limit settings", () => {
  it("have documented defaults", () => {
    expect(loadConfig({}).limits).toEqual({
      maxDepth: 12,
      maxCost: 5_000_000,
      maxTokens: 3_000,
      maxAliases: 30,
      maxRequestBytes: 1_048_576,
      maxPageSize: 10_000,
      maxPoints: 10_000,
      maxModelParameters: 50_000_000,
      maxModelNodes: 5_000,
      maxBatchElements: 16_777_216,
      runRateLimit: 30,
      runRateWindowMs: 60_000,
      maxSubscriptionsPerConnection: 50,
      maxLogRows: 10_000,
      maxCustomMetrics: 100,
      maxMetricNameLength: 64,
      externalIdleMs: 300_000,
    });
    expect(loadConfig({}).wsInitTimeoutMs).toBe(3_000);
  });

  it("reject values out of range, naming the variable and the range", () => {
    expect(() => loadConfig({ MAX_QUERY_DEPTH: "0" })).toThrow(
      'MAX_QUERY_DEPTH must be an integer between 1 and 1000, got "0"',
    );
    expect(() => loadConfig({ RUN_RATE_LIMIT: "many" })).toThrow(/RUN_RATE_LIMIT must be an integer/);
    expect(() => loadConfig({ MAX_REQUEST_BYTES: "10" })).toThrow(
      /MAX_REQUEST_BYTES must be an integer between 1024/,
    );
  });
});
