import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { auditServer } from "graphql-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, buildApp } from "../../src/server/app.ts";
import { loadConfig } from "../../src/server/config.ts";
import { BUILTIN_MODEL_NAMES } from "../helpers/fixtures.ts";

let app: App;
let url: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gradstream-app-"));
  const config = loadConfig({
    DATABASE_URL: `file:${join(dir, "app.db")}`,
    PORT: "0",
    HOST: "127.0.0.1",
    NODE_ENV: "test",
    CORS_ORIGINS: "http://dashboard.example:3000",
    MAX_UPLOAD_BYTES: "100000",
  });
  app = buildApp(config, { log: () => {} });
  ({ url } = await app.start());
});
afterAll(async () => {
  await app.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the real server on a free port", () => {
  it("serves the built-in models over GraphQL-over-HTTP with the application/graphql-response+json type", async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
      body: JSON.stringify({ query: "{ models { name } }" }),
    });
    expect(res.headers.get("content-type")).toMatch(/^application\/graphql-response\+json/);
    const body = (await res.json()) as { data: { models: { name: string }[] } };
    expect(body.data.models.map((m) => m.name).sort()).toEqual(BUILTIN_MODEL_NAMES);
  });

  it("allows the configured CORS origin and does not echo another", async () => {
    const pre = await fetch(url, {
      method: "OPTIONS",
      headers: {
        origin: "http://dashboard.example:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBe("http://dashboard.example:3000");
    const other = await fetch(url, {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
    });
    expect(other.headers.get("access-control-allow-origin")).not.toBe("http://evil.example");
  });

  it("passes every MUST audit of graphql-http's GraphQL-over-HTTP conformance suite (SHOULD results printed)", async () => {
    const results = await auditServer({ url });
    const must = results.filter((r) => r.name.startsWith("MUST"));
    const failedMust = must
      .filter((r) => r.status !== "ok")
      .map((r) => `${r.name}: ${"reason" in r ? r.reason : ""}`);
    const should = results.filter((r) => !r.name.startsWith("MUST"));
    const shouldOk = should.filter((r) => r.status === "ok").length;
    console.log(
      `graphql-http audit: MUST ${must.length - failedMust.length}/${must.length} ok; SHOULD/MAY ${shouldOk}/${should.length} ok` +
        should
          .filter((r) => r.status !== "ok")
          .map((r) => `\n  ${r.status} ${r.name}: ${"reason" in r ? r.reason : ""}`)
          .join(""),
    );
    expect(must.length).toBeGreaterThan(10);
    expect(failedMust).toEqual([]);
  });

  it("refuses a multipart upload over MAX_UPLOAD_BYTES with 413 before reading it", async () => {
    const form = new FormData();
    form.set(
      "operations",
      JSON.stringify({
        query: 'mutation($f: Upload!) { registerModel(file: $f, name: "x") { __typename } }',
        variables: { f: null },
      }),
    );
    form.set("map", JSON.stringify({ 0: ["variables.f"] }));
    form.set("0", new File([new Uint8Array(300_000)], "big.onnx"));
    const res = await fetch(url, { method: "POST", headers: { "x-graphql-yoga-csrf": "1" }, body: form });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
    expect(body.errors[0].message).toMatch(/the limit is 100000 bytes \(MAX_UPLOAD_BYTES\)$/);
  });

  it("answers an export URL for an unknown run with 404 naming the run", async () => {
    const res = await fetch(url.replace(/\/graphql$/, "/exports/run-424242.onnx"));
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("unknown run id 424242\n");
  });
});
