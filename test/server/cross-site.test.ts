// The six ways a web page in the user's browser could drive a server on localhost, each tried against
// the real server in its default mode (token-less on loopback): every one is refused with a 403 that
// names the rule, no table changes, and the dashboard's own origin (and curl, with no Origin) is still
// served, over HTTP and over graphql-ws.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { dbId } from "../helpers/ids.ts";
import { type Live, startLive } from "../helpers/live-server.ts";
import { rowCounts } from "./hostile-models.ts";

const MUTATION = 'mutation { startExperiment(name: "linear") { __typename } }';
const EVIL = "https://evil.example";

let live: Live;
let port: number;
let before: Record<string, number>;

/** A raw HTTP request (fetch may not set Host), answering status, headers and body text. */
function raw(
  method: string,
  headers: Record<string, string>,
  body?: string | Buffer,
  path = "/graphql",
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Opens a graphql-ws socket with the given upgrade headers; resolves the HTTP status it was refused with, or 101. */
function upgrade(
  headers: Record<string, string>,
  origin?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(live.wsUrl, "graphql-transport-ws", { headers, origin });
    ws.on("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    ws.on("open", () => {
      ws.close();
      resolve({ status: 101, text: "" });
    });
    ws.on("error", () => {});
  });
}

/** Runs one mutation over graphql-ws from the given Origin; resolves its result or the close code. */
function wsMutation(origin: string): Promise<unknown> {
  return new Promise((resolve) => {
    const ws = new WebSocket(live.wsUrl, "graphql-transport-ws", { origin });
    ws.on("open", () => ws.send(JSON.stringify({ type: "connection_init", payload: {} })));
    ws.on("message", (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { type: string; payload?: unknown };
      if (msg.type === "connection_ack")
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: MUTATION } }));
      if (msg.type === "next") {
        resolve(msg.payload);
        ws.close();
      }
    });
    ws.on("unexpected-response", (_req, res) => resolve({ status: res.statusCode }));
    ws.on("error", () => {});
  });
}

function form(boundary: string): string {
  const part = (name: string, value: string) =>
    `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  return `${part("operations", JSON.stringify({ query: MUTATION }))}${part("map", "{}")}--${boundary}--\r\n`;
}

beforeAll(async () => {
  live = await startLive({ RUN_RATE_LIMIT: "1000" });
  port = Number(new URL(live.url).port);
  before = await rowCounts(live);
});
afterAll(() => live.close());

describe("cross-site requests against the default (open, loopback) server", () => {
  it("answers a preflight from another origin with 403 and no Access-Control-Allow-Origin, and refuses its JSON POST", async () => {
    const preflight = await raw("OPTIONS", {
      origin: EVIL,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    expect(JSON.parse(preflight.text).errors[0]).toEqual({
      message: expect.stringMatching(
        /^Origin "https:\/\/evil\.example" may not use this server: .*CORS_ORIGINS/,
      ),
      extensions: { code: "FORBIDDEN_ORIGIN" },
    });
    const post = await raw(
      "POST",
      { origin: EVIL, "content-type": "application/json" },
      JSON.stringify({ query: MUTATION }),
    );
    expect(post.status).toBe(403);
    expect(JSON.parse(post.text).errors[0].extensions.code).toBe("FORBIDDEN_ORIGIN");
  });

  it("refuses a multipart/form-data POST (a plain HTML form) without the preflight-forcing header", async () => {
    const boundary = "xyzzy";
    const headers = { "content-type": `multipart/form-data; boundary=${boundary}` };
    // Refused for its content type alone, with or without a cross-site Origin.
    const plain = await raw("POST", headers, form(boundary));
    const crossSite = await raw("POST", { ...headers, origin: EVIL }, form(boundary));
    expect(plain.status).toBe(403);
    expect(JSON.parse(plain.text).errors[0]).toEqual({
      message:
        'a POST with Content-Type "multipart/form-data" can be sent by any web page without a CORS preflight, so it is refused: send application/json, or for uploads multipart/form-data with the header "x-graphql-yoga-csrf: 1" (no setting relaxes this)',
      extensions: { code: "FORBIDDEN_CONTENT_TYPE" },
    });
    expect(crossSite.status).toBe(403);
  });

  it("refuses application/x-www-form-urlencoded and text/plain POSTs", async () => {
    const body = `query=${encodeURIComponent(MUTATION)}`;
    const urlencoded = await raw("POST", { "content-type": "application/x-www-form-urlencoded" }, body);
    const text = await raw("POST", { "content-type": "text/plain" }, JSON.stringify({ query: MUTATION }));
    const none = await raw("POST", {}, JSON.stringify({ query: MUTATION }));
    expect([urlencoded.status, text.status, none.status]).toEqual([403, 403, 403]);
    expect(JSON.parse(urlencoded.text).errors[0].message).toMatch(
      /^a POST with Content-Type "application\/x-www-form-urlencoded" can be sent by any web page/,
    );
    expect(JSON.parse(none.text).errors[0].message).toMatch(/^a POST with Content-Type "\(none\)"/);
  });

  it("refuses a DNS-rebinding request (Host is the attacker's name) on HTTP, SSE, exports and the dashboard", async () => {
    const host = `evil.example:${port}`;
    const json = { host, origin: `http://${host}`, "content-type": "application/json" };
    const post = await raw("POST", json, JSON.stringify({ query: MUTATION }));
    const sse = await raw("GET", { host, accept: "text/event-stream" }, undefined, "/graphql/stream");
    const page = await raw("GET", { host }, undefined, "/");
    const exported = await raw("GET", { host }, undefined, "/exports/run-1.onnx");
    expect([post.status, sse.status, page.status, exported.status]).toEqual([403, 403, 403, 403]);
    expect(JSON.parse(post.text).errors[0]).toEqual({
      message: `Host "${host}" does not name this server: it answers to localhost, 127.0.0.1 and [::1] on port ${port}, HOST, PUBLIC_URL's host and the names in ALLOWED_HOSTS (this blocks DNS rebinding); add the name to ALLOWED_HOSTS to serve it`,
      extensions: { code: "FORBIDDEN_HOST" },
    });
  });

  it("refuses a cross-site WebSocket upgrade, and a rebinding one, with 403 naming the rule", async () => {
    const crossSite = await upgrade({}, EVIL);
    const rebinding = await upgrade({ host: `evil.example:${port}` });
    const mutation = await wsMutation(EVIL);
    expect(crossSite.status).toBe(403);
    expect(crossSite.text).toMatch(
      /^Origin "https:\/\/evil\.example" may not use this server's WebSocket: .*CORS_ORIGINS/,
    );
    expect(rebinding.status).toBe(403);
    expect(rebinding.text).toMatch(/^Host "evil\.example:\d+" does not name this server: .*ALLOWED_HOSTS/);
    expect(mutation).toEqual({ status: 403 });
  });

  it("changed no table", async () => {
    expect(await rowCounts(live)).toEqual(before);
  });
});

describe("the server's own origin and origin-less clients", () => {
  it("serves the dashboard page and its own origin's JSON POST on every loopback name", async () => {
    const page = await raw("GET", { host: `localhost:${port}` }, undefined, "/");
    expect(page.status).toBe(200);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      const r = await raw(
        "POST",
        { host, origin: `http://${host}`, "content-type": "application/json" },
        JSON.stringify({ query: "{ models { nodes { name } } }" }),
      );
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text).data.models.nodes.length).toBe(6); // the built-in models
    }
  });

  it("runs a mutation over graphql-ws from its own origin, and over HTTP from curl (no Origin)", async () => {
    const runsBefore = (await rowCounts(live)).runs;
    const overWs = await wsMutation(`http://127.0.0.1:${port}`);
    expect(overWs).toEqual({ data: { startExperiment: { __typename: "ExperimentStart" } } });
    const curl = await live.gql(MUTATION);
    expect(curl.data).toEqual({ startExperiment: { __typename: "ExperimentStart" } });
    expect((await rowCounts(live)).runs).toBe(runsBefore + 2);
  });

  it("serves an origin listed in CORS_ORIGINS and a name in ALLOWED_HOSTS, with CORS headers for that origin only", async () => {
    const other = await startLive({
      CORS_ORIGINS: "http://dash.example:3000",
      ALLOWED_HOSTS: "gradstream.lan",
    });
    try {
      const otherPort = Number(new URL(other.url).port);
      const ask = (headers: Record<string, string>) =>
        new Promise<{ status: number; acao: unknown }>((resolve, reject) => {
          const req = request(
            { host: "127.0.0.1", port: otherPort, method: "OPTIONS", path: "/graphql", headers },
            (res) => {
              res.resume();
              resolve({ status: res.statusCode ?? 0, acao: res.headers["access-control-allow-origin"] });
            },
          );
          req.on("error", reject);
          req.end();
        });
      const preflight = { "access-control-request-method": "POST" };
      expect(await ask({ ...preflight, origin: "http://dash.example:3000" })).toEqual({
        status: 204,
        acao: "http://dash.example:3000",
      });
      expect(await ask({ ...preflight, origin: "http://dash.example:3001" })).toMatchObject({
        status: 403,
        acao: undefined,
      });
      expect(
        await ask({ ...preflight, host: "gradstream.lan:8080", origin: "http://gradstream.lan:8080" }),
      ).toMatchObject({ status: 204 });
    } finally {
      await other.close();
    }
  });
});

describe("URLs the server hands out", () => {
  /** Run.exportUrl of a run that has a checkpoint, asked with the given Host header. */
  async function exportUrl(target: Live, runId: string, host: string): Promise<string> {
    const p = Number(new URL(target.url).port);
    const body = JSON.stringify({
      query: "query($id: ID!) { run(id: $id) { exportUrl } }",
      variables: { id: runId },
    });
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: p,
          method: "POST",
          path: "/graphql",
          headers: { host, "content-type": "application/json" },
        },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => {
            text += c.toString();
          });
          res.on("end", () => resolve(String(JSON.parse(text).data?.run?.exportUrl)));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  async function trainedRun(target: Live): Promise<string> {
    const started = await target.gql<{ startExperiment: { runs: { id: string }[] } }>(
      'mutation { startExperiment(name: "linear") { ... on ExperimentStart { runs { id } } } }',
    );
    const id = started.data?.startExperiment.runs[0].id ?? "";
    for (;;) {
      const r = await target.gql<{ run: { status: string } }>(
        "query($id: ID!) { run(id: $id) { ... on Run { status } } }",
        { id },
      );
      if (r.data?.run.status === "COMPLETED") return id;
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  it("builds export URLs from the allowed Host the client used, or from PUBLIC_URL when set", async () => {
    const id = await trainedRun(live);
    expect(await exportUrl(live, id, `localhost:${port}`)).toBe(
      `http://localhost:${port}/exports/run-${dbId(id)}.onnx`,
    );
    const behindProxy = await startLive({
      PUBLIC_URL: "https://gs.example.com/base",
      ALLOWED_HOSTS: "other.lan",
    });
    try {
      const otherId = await trainedRun(behindProxy);
      expect(await exportUrl(behindProxy, otherId, "other.lan:9999")).toBe(
        `https://gs.example.com/base/exports/run-${dbId(otherId)}.onnx`,
      );
    } finally {
      await behindProxy.close();
    }
  });
});
