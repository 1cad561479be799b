// Every auth path against the real server on a free port: HTTP, SSE (graphql-sse) and graphql-ws, with
// no token, a bad token, a read token and a write token; the open localhost default; a non-loopback bind.
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createToken, revokeToken } from "../../src/db/tokens.ts";
import { postGql } from "../helpers/gql.ts";
import { dbId } from "../helpers/ids.ts";
import { CHUNKS, type Chunk, type Live, range, startLive, steps } from "../helpers/live-server.ts";

const post = (url: string, query: string, variables = {}, token?: string | null, authorization?: string) =>
  postGql(url, query, variables, { token, authorization });

/** Opens a raw graphql-transport-ws socket, sends connection_init, and reports the ack or the close. */
function wsInit(
  wsUrl: string,
  payload: Record<string, unknown> | undefined,
  then?: (socket: WebSocket) => void,
): Promise<{ acked: boolean; code: number; reason: string; messages: unknown[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, "graphql-transport-ws");
    let acked = false;
    const messages: unknown[] = [];
    socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", payload })));
    socket.on("message", (data) => {
      const msg = JSON.parse(String(data)) as { type: string };
      messages.push(msg);
      if (msg.type === "connection_ack") {
        acked = true;
        if (then) then(socket);
        else socket.close(1000, "done");
      }
    });
    socket.on("close", (code, reason) => resolve({ acked, code, reason: String(reason), messages }));
    socket.on("error", reject);
  });
}

const RUN_COUNT = "{ runs(first: 100) { edges { node { id } } } }";
const START_LINEAR = `mutation { startExperiment(name: "linear") { ... on ExperimentStart { runs { id totalSteps } } ... on Error { message } } }`;

async function runCount(live: Live): Promise<number> {
  return live.app.db?.prisma.run.count() ?? -1;
}

describe("with GRADSTREAM_AUTH=required", () => {
  let live: Live;
  let read: string;
  let write: string;
  let revoked: string;
  let runId: string;

  beforeAll(async () => {
    live = await startLive({ GRADSTREAM_AUTH: "required", CORS_ORIGINS: "http://dashboard.example" });
    const db = live.app.db;
    if (!db) throw new Error("server has no database");
    read = (await createToken(db, { name: "dashboard", scope: "read" })).token;
    write = (await createToken(db, { name: "ci", scope: "write" })).token;
    revoked = (await createToken(db, { name: "old", scope: "write" })).token;
    await revokeToken(db, "old");
    const started = await post(live.url, START_LINEAR, {}, write);
    const runs = (started.body.data as { startExperiment: { runs: { id: string }[] } }).startExperiment.runs;
    runId = runs[0].id;
  });
  afterAll(() => live.close());

  it("refuses an HTTP query without a token with 401, UNAUTHENTICATED and a Bearer challenge", async () => {
    const r = await post(live.url, RUN_COUNT);
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="gradstream"');
    expect(r.body.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    expect(r.body.errors?.[0].message).toMatch(/requires an API token.*Authorization: Bearer/);
    expect(r.body.data).toBeUndefined();
  });

  it("refuses an unknown token, a revoked token and a non-Bearer header with 401", async () => {
    const unknown = await post(live.url, RUN_COUNT, {}, `gs_${"A".repeat(43)}`);
    const old = await post(live.url, RUN_COUNT, {}, revoked);
    const basic = await post(live.url, RUN_COUNT, {}, null, "Basic dXNlcjpwYXNz");
    expect([unknown.status, old.status, basic.status]).toEqual([401, 401, 401]);
    expect(unknown.body.errors?.[0].message).toBe("unknown or revoked API token");
    expect(old.body.errors?.[0].message).toBe("unknown or revoked API token");
    expect(basic.body.errors?.[0].message).toMatch(/malformed authorization: expected "Bearer <token>"/);
  });

  it("answers a query with a read token", async () => {
    const r = await post(live.url, RUN_COUNT, {}, read);
    expect(r.status).toBe(200);
    expect((r.body.data as { runs: { edges: unknown[] } }).runs.edges.length).toBe(1);
  });

  it("refuses a mutation with a read token with 403 FORBIDDEN and starts nothing", async () => {
    const before = await runCount(live);
    const r = await post(live.url, START_LINEAR, {}, read);
    expect(r.status).toBe(403);
    expect(r.body.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(r.body.errors?.[0].message).toMatch(/scope read .*mutations need a write token/);
    expect(await runCount(live)).toBe(before);
  });

  it("runs a mutation with a write token", async () => {
    const before = await runCount(live);
    const r = await post(
      live.url,
      `mutation($id: ID!) { cancelRun(id: $id) { __typename ... on Run { id } ... on Error { message } } }`,
      { id: "999999" },
      write,
    );
    expect(r.status).toBe(200);
    expect(r.body.data?.cancelRun).toEqual({ __typename: "NotFoundError", message: expect.any(String) });
    expect(dbId(runId)).toBeGreaterThan(0);
    expect(before).toBe(1);
  });

  it("closes a graphql-ws socket whose connection_init has no token, or a bad one, with 4401", async () => {
    const none = await wsInit(live.wsUrl, {});
    const bad = await wsInit(live.wsUrl, { authorization: `Bearer gs_${"B".repeat(43)}` });
    const noPayload = await wsInit(live.wsUrl, undefined);
    expect([none.acked, bad.acked, noPayload.acked]).toEqual([false, false, false]);
    expect([none.code, bad.code, noPayload.code]).toEqual([4401, 4401, 4401]);
    expect(bad.reason).toMatch(/^Unauthorized: unknown or revoked API token/);
  });

  it("streams a subscription over graphql-ws with a read token", async () => {
    const client = createWsClient({
      url: live.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${read}` },
    });
    const chunks: Chunk[] = [];
    try {
      for await (const r of client.iterate<{ batchMetrics: Chunk }>({
        query: CHUNKS,
        variables: { runId },
      })) {
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        if (r.data) chunks.push(r.data.batchMetrics);
      }
    } finally {
      await client.dispose();
    }
    expect(steps(chunks)).toEqual(range(100));
  });

  it("closes a read-token graphql-ws socket with 4403 when it sends a mutation", async () => {
    const r = await wsInit(live.wsUrl, { authorization: `Bearer ${read}` }, (socket) =>
      socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: START_LINEAR } })),
    );
    expect(r.acked).toBe(true);
    expect(r.code).toBe(4403);
    expect(r.reason).toMatch(/^Forbidden: token "dashboard" has scope read/);
  });

  it("runs a mutation over graphql-ws with a write token", async () => {
    const r = await wsInit(live.wsUrl, { authorization: `Bearer ${write}` }, (socket) => {
      socket.send(
        JSON.stringify({
          id: "1",
          type: "subscribe",
          payload: { query: `mutation { cancelRun(id: "999999") { __typename } }` },
        }),
      );
      socket.on("message", (data) => {
        if ((JSON.parse(String(data)) as { type: string }).type === "complete") socket.close(1000, "done");
      });
    });
    expect(r.code).toBe(1000);
    expect(r.messages).toContainEqual({
      id: "1",
      type: "next",
      payload: { data: { cancelRun: { __typename: "NotFoundError" } } },
    });
  });

  it("refuses graphql-sse without a token and streams with a read token", async () => {
    const anonymous = await fetch(`${live.url}/stream`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: CHUNKS, variables: { runId } }),
    });
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
    const sse = createSseClient({ url: `${live.url}/stream`, headers: { authorization: `Bearer ${read}` } });
    const chunks: Chunk[] = [];
    for await (const r of sse.iterate<{ batchMetrics: Chunk }>({ query: CHUNKS, variables: { runId } })) {
      if (r.data) chunks.push(r.data.batchMetrics);
    }
    sse.dispose();
    expect(steps(chunks)).toEqual(range(100));
  });

  it("refuses a model export without a token and lets CORS preflights from CORS_ORIGINS through", async () => {
    const exported = await fetch(live.url.replace("/graphql", `/exports/run-${dbId(runId)}.onnx`));
    expect(exported.status).toBe(401);
    await exported.body?.cancel();
    const preflight = await fetch(live.url, {
      method: "OPTIONS",
      headers: {
        origin: "http://dashboard.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://dashboard.example");
    await preflight.body?.cancel();
  });
});

describe("with the open-localhost default", () => {
  let live: Live;
  const logged: string[] = [];
  beforeAll(async () => {
    live = await startLive({}, (line) => logged.push(line));
  });
  afterAll(() => live.close());

  it("logs loudly at start that token-less requests get full access", () => {
    expect(logged.join("\n")).toMatch(
      /AUTH OPEN: bound to 127\.0\.0\.1 .*WITHOUT a token get full read\/write/s,
    );
  });

  it("runs a mutation without a token on a loopback bind", async () => {
    const r = await post(live.url, `mutation { cancelRun(id: "424242") { __typename } }`);
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({ cancelRun: { __typename: "NotFoundError" } });
  });

  it("still checks a token that is sent: a read token cannot mutate, a bad one is refused", async () => {
    const db = live.app.db;
    if (!db) throw new Error("server has no database");
    const { token } = await createToken(db, { name: "viewer", scope: "read" });
    const mutate = await post(live.url, `mutation { cancelRun(id: "1") { __typename } }`, {}, token);
    const bad = await post(live.url, RUN_COUNT, {}, "not-a-token");
    expect([mutate.status, bad.status]).toEqual([403, 401]);
  });
});

describe("GraphiQL with tokens required", () => {
  it("serves the GraphiQL page without a token but runs nothing without one", async () => {
    const live = await startLive({ GRADSTREAM_AUTH: "required", GRAPHIQL: "true" });
    try {
      const page = await fetch(live.url, { headers: { accept: "text/html" } });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/graphiql/i);
      const query = await fetch(`${live.url}?query=${encodeURIComponent(RUN_COUNT)}`, {
        headers: { accept: "application/graphql-response+json" },
      });
      expect(query.status).toBe(401);
      await query.body?.cancel();
    } finally {
      await live.close();
    }
  });
});

describe("bound to a non-loopback address with the open-localhost default", () => {
  it("requires tokens anyway and says so at start", async () => {
    const logged: string[] = [];
    const live = await startLive({ HOST: "0.0.0.0" }, (line) => logged.push(line));
    try {
      const port = new URL(live.url).port;
      const r = await post(`http://127.0.0.1:${port}/graphql`, RUN_COUNT);
      expect(r.status).toBe(401);
      expect(logged.join("\n")).toMatch(/API tokens required \(HOST=0\.0\.0\.0 is not loopback\); 0 active/);
      expect(logged.join("\n")).toMatch(/WARNING no active tokens/);
    } finally {
      await live.close();
    }
  });
});
