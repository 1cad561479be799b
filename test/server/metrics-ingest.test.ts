// POST /runs/{id}/metrics.ndjson over the real server with tokens required: rows stored and streamed as
// logMetrics stores them, the same idempotency and refusals (naming line, step and field), write scope,
// the content types the edges and the route accept, and the body size limit.
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createToken } from "../../src/db/tokens.ts";
import { parseNdjson } from "../../src/server/metrics-ingest.ts";
import { makeRun } from "../helpers/fixtures.ts";
import { postGql } from "../helpers/gql.ts";
import { dbId } from "../helpers/ids.ts";
import { CHUNKS, type Chunk, type Live, startLive } from "../helpers/live-server.ts";

const CREATE = `mutation($name: String!) { createRun(input: { name: $name }) { ... on Run { id } } }`;

describe("POST /runs/{id}/metrics.ndjson, tokens required", () => {
  let live: Live;
  let read: string;
  let write: string;
  let base: string;

  const create = async (name: string) => {
    const r = await postGql(live.url, CREATE, { name }, { token: write });
    return (r.body.data as { createRun: { id: string } }).createRun.id;
  };
  const ingest = async (
    runId: string | number,
    body: string,
    opts: { token?: string | null; type?: string } = {},
  ) => {
    const headers: Record<string, string> = { "content-type": opts.type ?? "application/x-ndjson" };
    const token = opts.token === undefined ? write : opts.token;
    if (token) headers.authorization = `Bearer ${token}`;
    // The route takes the run's number (databaseId); tests hold the API's global IDs.
    const res = await fetch(`${base}/runs/${dbId(runId)}/metrics.ndjson`, { method: "POST", headers, body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const lines = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).join("\n");
  const storedSteps = async (runId: string) =>
    (await live.app.db?.batchMetricsPage(dbId(runId), -1, 1000))?.rows.map((r) => r.step);

  beforeAll(async () => {
    live = await startLive({ GRADSTREAM_AUTH: "required", MAX_LOG_ROWS: "100", MAX_REQUEST_BYTES: "4096" });
    const db = live.app.db;
    if (!db) throw new Error("server has no database");
    read = (await createToken(db, { name: "viewer", scope: "read" })).token;
    write = (await createToken(db, { name: "trainer", scope: "write" })).token;
    base = live.url.replace(/\/graphql$/, "");
  });
  afterAll(() => live.close());

  it("stores the rows, answers logMetrics' result, and streams them to a subscriber in step order", async () => {
    const id = await create("ndjson");
    const client = createClient({
      url: live.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${read}` },
    });
    const got: Chunk[] = [];
    // Replay-then-live: whether the subscription starts before or after the POST, every row arrives once.
    const done = (async () => {
      for await (const r of client.iterate<{ batchMetrics: Chunk }>({
        query: CHUNKS,
        variables: { runId: id },
      })) {
        if (r.data) got.push(r.data.batchMetrics);
        if (got.flatMap((c) => c.rows).length >= 3) break;
      }
    })();
    const r = await ingest(
      id,
      `${lines([
        { step: 1, epoch: 0, loss: 0.5, accuracy: 0.75, custom: { perplexity: 1.6 } },
        { step: 0, epoch: 0, loss: 0.7, accuracy: 0.5 },
      ])}\n\n${JSON.stringify({ step: 2, loss: 0.4 })}\n`,
    );
    expect(r).toEqual({ status: 200, body: { stored: 3, ignored: 0, lastStep: 2 } });
    await done;
    await client.dispose();
    expect(got.flatMap((c) => c.rows.map((row) => [row.step, row.loss]))).toEqual([
      [0, 0.7],
      [1, 0.5],
      [2, 0.4],
    ]);
    const page = await live.app.db?.batchMetricsPage(dbId(id), -1, 10);
    expect(page?.rows[1]).toMatchObject({ step: 1, loss: 0.5, accuracy: 0.75, custom: { perplexity: 1.6 } });
  });

  it("ignores a resent step with the same values and refuses one with other values, storing nothing of that request", async () => {
    const id = await create("idempotent");
    expect((await ingest(id, lines([{ step: 0, loss: 1 }]))).body).toEqual({
      stored: 1,
      ignored: 0,
      lastStep: 0,
    });
    expect(
      (
        await ingest(
          id,
          lines([
            { step: 0, loss: 1 },
            { step: 1, loss: 0.9 },
          ]),
        )
      ).body,
    ).toEqual({ stored: 1, ignored: 1, lastStep: 1 });
    const conflict = await ingest(
      id,
      lines([
        { step: 2, loss: 0.8 },
        { step: 0, loss: 2 },
      ]),
    );
    expect(conflict.status).toBe(400);
    expect(conflict.body).toEqual({
      errors: [
        {
          message:
            "step 0 is already stored with a different loss (stored 1, sent 2); a step's values cannot change",
          extensions: { code: "BAD_USER_INPUT", field: "rows.loss" },
        },
      ],
    });
    expect(await storedSteps(id)).toEqual([0, 1]);
  });

  it("refuses bad lines naming the line, the step and the field, and stores nothing", async () => {
    const id = await create("bad-lines");
    const refusals = [
      [
        `{"step": 0}\n{"step": 1, "loss": }`,
        "line 2",
        /^line 2 is not JSON \(.+\): send one JSON object per line/,
      ],
      [`{"step": 0}\n[1, 2]`, "line 2", /^line 2 is \[1,2\]; each line must be one JSON object/],
      [`{"step": 0, "los": 1}`, "line 1.los", /^line 1 has an unknown field "los"; accepted: step, epoch/],
      [`{"step": 3, "loss": "0.5"}`, "loss", /^step 3: loss = "0.5"; a finite number is required$/],
      [`{"step": -1}`, "rows[0].step", /^rows\[0\]\.step = -1; an integer from 0 to 2147483647 is required$/],
      [
        `{"step": 4, "custom": {"9lives": 1}}`,
        "custom.9lives",
        /^step 4: custom metric name "9lives" is not accepted/,
      ],
    ] as const;
    for (const [body, field, message] of refusals) {
      const r = await ingest(id, body);
      expect(r.status, body).toBe(400);
      const err = (r.body.errors as { message: string; extensions: { field: string; code: string } }[])[0];
      expect(err.extensions).toEqual({ code: "BAD_USER_INPUT", field });
      expect(err.message).toMatch(message);
    }
    const many = await ingest(id, lines(Array.from({ length: 101 }, (_, step) => ({ step }))));
    expect(many.status).toBe(400);
    expect((many.body.errors as { message: string }[])[0].message).toBe(
      "101 rows in one call; at most 100 (MAX_LOG_ROWS): send them in several calls",
    );
    expect(await storedSteps(id)).toEqual([]);
  });

  it("needs a write token: none is 401, a read token 403, and nothing is stored", async () => {
    const id = await create("scopes");
    const none = await ingest(id, lines([{ step: 0 }]), { token: null });
    expect(none.status).toBe(401);
    expect((none.body.errors as { extensions: { code: string } }[])[0].extensions.code).toBe(
      "UNAUTHENTICATED",
    );
    const viewer = await ingest(id, lines([{ step: 0 }]), { token: read });
    expect(viewer.status).toBe(403);
    expect((viewer.body.errors as { message: string }[])[0].message).toBe(
      'token "viewer" has scope read (queries and subscriptions); mutations need a write token',
    );
    expect(await storedSteps(id)).toEqual([]);
  });

  it("accepts only NDJSON content types: text/plain is refused at the edge, application/json by the route", async () => {
    const id = await create("types");
    const plain = await ingest(id, lines([{ step: 0 }]), { type: "text/plain" });
    expect(plain.status).toBe(403);
    expect((plain.body.errors as { extensions: { code: string } }[])[0].extensions.code).toBe(
      "FORBIDDEN_CONTENT_TYPE",
    );
    const json = await ingest(id, lines([{ step: 0 }]), { type: "application/json" });
    expect(json.status).toBe(415);
    expect((json.body.errors as { message: string }[])[0].message).toBe(
      'Content-Type "application/json" is not accepted here: send application/x-ndjson (one JSON row per line)',
    );
    expect(await storedSteps(id)).toEqual([]);
  });

  it("answers 404 for an unknown run, 400 for a trained run, and 413 for a body over MAX_REQUEST_BYTES", async () => {
    const unknown = await ingest(999_999, lines([{ step: 0 }]));
    expect(unknown.status).toBe(404);
    expect((unknown.body.errors as { extensions: { code: string } }[])[0].extensions.code).toBe("NOT_FOUND");
    const db = live.app.db;
    if (!db) throw new Error("no database");
    const trained = await makeRun(db);
    const refused = await ingest(trained.id, lines([{ step: 0 }]));
    expect(refused.status).toBe(400);
    expect((refused.body.errors as { message: string }[])[0].message).toBe(
      `run ${trained.id} is TRAINED: only EXTERNAL runs (createRun) accept logged metrics`,
    );
    const id = await create("big");
    const big = await ingest(
      id,
      lines(Array.from({ length: 90 }, (_, step) => ({ step, loss: 0.123456789, accuracy: 0.987654321 }))),
    );
    expect(big.status).toBe(413);
    expect((big.body.errors as { message: string }[])[0].message).toMatch(
      /^the body is \d+ bytes or more; the limit is 4096 bytes \(MAX_REQUEST_BYTES\)/,
    );
    expect(await storedSteps(id)).toEqual([]);
  });
});

describe("parseNdjson", () => {
  it("skips blank lines, keeps line numbers for errors, and refuses two values on one line", () => {
    expect(parseNdjson('\n{"step": 1}\r\n\n{"step": 2}\n')).toEqual([{ step: 1 }, { step: 2 }]);
    expect(() => parseNdjson('{"step": 1}\n\n{"step": 2}, {"step": 3}')).toThrow(/^line 3 is not JSON/);
  });
});
