// The static route: the dashboard at /, its modules under /assets/, the vendor builds from
// node_modules, and nothing outside those folders.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveStatic } from "../../src/server/static.ts";
import { startServer, type TestServer } from "./harness.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

describe("the dashboard's static route", () => {
  it("serves the page at / as HTML that loads the app module", async () => {
    const res = await fetch(`${server.origin}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toContain('<script type="module" src="/assets/js/app.js"></script>');
  });

  it("serves uPlot's ESM build and graphql-ws's browser client from node_modules as JavaScript", async () => {
    for (const path of ["/assets/vendor/uplot/uPlot.esm.js", "/assets/vendor/graphql-ws/client.js"]) {
      const res = await fetch(`${server.origin}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      expect((await res.text()).length).toBeGreaterThan(1000);
    }
  });

  it("answers 404 for an escape from the asset folders, an unknown file, or a non-asset type", async () => {
    for (const path of [
      "/assets/%2e%2e/package.json",
      "/assets/vendor/uplot/%2e%2e/package.json",
      "/assets/js/missing.js",
    ]) {
      const res = await fetch(`${server.origin}${path}`);
      expect(res.status, path).toBe(404);
    }
    expect(resolveStatic("/assets/vendor/graphql-ws/client.d.ts")).toBeNull();
    expect(resolveStatic("/assets/../package.json")).toBeNull();
  });

  it("leaves /graphql to GraphQL", async () => {
    const res = await fetch(`${server.origin}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(await res.json()).toEqual({ data: { __typename: "Query" } });
  });
});
