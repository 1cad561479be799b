import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import { createSchema } from "graphql-yoga";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createTransport, type Transport } from "../../src/server/http.ts";

// A throwaway schema: this file tests the transports (HTTP, SSE, graphql-ws), not gradstream's types.
function tinySchema() {
  return createSchema<{ who: string }>({
    typeDefs: "type Query { whoami: String! } type Subscription { countTo(n: Int!): Int! }",
    resolvers: {
      Query: { whoami: (_root: unknown, _args: unknown, ctx: { who: string }) => ctx.who },
      Subscription: {
        countTo: {
          subscribe: async function* (_root: unknown, { n }: { n: number }) {
            for (let i = 1; i <= n; i++) yield { countTo: i };
          },
        },
      },
    },
  });
}

let transport: Transport;
let url: string;

beforeAll(async () => {
  transport = createTransport({
    schema: tinySchema(),
    context: ({ request, connectionParams }) => ({
      who: String(connectionParams?.who ?? request.headers.get("x-who") ?? "anonymous"),
    }),
  });
  url = await transport.listen(0, "127.0.0.1");
});
afterAll(() => transport.close());

describe("transports on one port", () => {
  it("answers a query over HTTP POST with the context built from the request", async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-who": "http-user" },
      body: JSON.stringify({ query: "{ whoami }" }),
    });
    expect(await res.json()).toEqual({ data: { whoami: "http-user" } });
  });

  it("streams a subscription over graphql-ws with connection params in the context", async () => {
    const client = createWsClient({
      url: url.replace("http", "ws"),
      webSocketImpl: WebSocket,
      connectionParams: { who: "ws-user" },
    });
    const seen: unknown[] = [];
    for await (const r of client.iterate({ query: "subscription { countTo(n: 3) }" })) seen.push(r.data);
    const who = await new Promise((resolve, reject) =>
      client.subscribe(
        { query: "{ whoami }" },
        { next: (r) => resolve(r.data), error: reject, complete: () => {} },
      ),
    );
    await client.dispose();
    expect(seen).toEqual([{ countTo: 1 }, { countTo: 2 }, { countTo: 3 }]);
    expect(who).toEqual({ whoami: "ws-user" });
  });

  it("streams a subscription over graphql-sse's protocol", async () => {
    const client = createSseClient({ url: `${url}/stream` });
    const seen: unknown[] = [];
    for await (const r of client.iterate({ query: "subscription { countTo(n: 2) }" })) seen.push(r.data);
    client.dispose();
    expect(seen).toEqual([{ countTo: 1 }, { countTo: 2 }]);
  });

  it("streams a subscription as plain server-sent events, as curl would read them", async () => {
    const res = await fetch(`${url}?query=${encodeURIComponent("subscription { countTo(n: 2) }")}`, {
      headers: { accept: "text/event-stream" },
    });
    const text = await res.text();
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    expect(text).toContain('data: {"data":{"countTo":1}}');
    expect(text).toContain('data: {"data":{"countTo":2}}');
    expect(text).toContain("event: complete");
  });
});

describe("GraphiQL", () => {
  it("is served to a browser at GET /graphql when enabled, and not when disabled", async () => {
    const on = createTransport({ schema: tinySchema(), context: () => ({ who: "x" }), graphiql: true });
    const onUrl = await on.listen(0, "127.0.0.1");
    try {
      const page = await fetch(onUrl, { headers: { accept: "text/html" } });
      expect(page.headers.get("content-type")).toMatch(/text\/html/);
      expect(await page.text()).toMatch(/graphiql/i);
      const off = await fetch(url, { headers: { accept: "text/html" } });
      expect(off.headers.get("content-type") ?? "").not.toMatch(/text\/html/);
    } finally {
      await on.close();
    }
  });
});
