// One context factory for HTTP, SSE and graphql-ws: every operation, whatever its transport, sees the
// same services. Pub/sub topics are typed and keyed by run id inside the RunManager (src/runs/), so
// the schema never names a topic string itself.
import type { Db } from "../db/index.ts";
import type { RunManager } from "../runs/types.ts";
import type { Config } from "./config.ts";

export interface Context {
  db: Db;
  runs: RunManager;
  config: Config;
  /** Origin the client reached us on (e.g. http://localhost:4000), for URLs the API hands out. */
  origin: string;
}

export interface ContextDeps {
  db: Db;
  runs: RunManager;
  config: Config;
}

export function createContextFactory(deps: ContextDeps): (init: { request: Request }) => Context {
  return ({ request }) => {
    const url = new URL(request.url);
    // graphql-ws requests are rebuilt from the upgrade request with a placeholder host; the Host
    // header is the one the client actually used.
    const host = request.headers.get("host") ?? url.host;
    const proto = url.protocol === "https:" || url.protocol === "wss:" ? "https:" : "http:";
    return { ...deps, origin: `${proto}//${host}` };
  };
}
