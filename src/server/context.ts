// One context factory for HTTP, SSE and graphql-ws: every operation, whatever its transport, sees the
// same services. Pub/sub topics are typed and keyed by run id inside the RunManager (src/runs/), so
// the schema never names a topic string itself.
import type { Db } from "../db/index.ts";
import type { ExternalRuns } from "../runs/external.ts";
import type { RunManager } from "../runs/types.ts";
import type { Context as SchemaContext } from "../schema/context.ts";
import { type Auth, authRequired, type Principal, principalOf } from "./auth.ts";
import type { Config } from "./config.ts";

/** The schema's context (src/schema/context.ts) with the server's full config and the caller. */
export interface Context extends SchemaContext {
  config: Config;
  /** The peer's network address, when the call came over a transport (rate limits use it). */
  clientAddress?: string;
  /** Who is calling (src/server/auth.ts); absent for in-process callers that bypass the transports. */
  auth?: Principal;
}

export interface ContextDeps {
  db: Db;
  runs: RunManager;
  external: ExternalRuns;
  config: Config;
  /** Resolves the caller; without it the context carries no principal (tests, benches). */
  auth?: Auth;
}

export function createContextFactory(
  deps: ContextDeps,
): (init: {
  request: Request;
  connectionParams?: Record<string, unknown>;
  clientAddress?: string;
}) => Promise<Context> {
  const { auth, ...shared } = deps;
  return async ({ request, connectionParams, clientAddress }) => {
    const services = { ...shared, clientAddress, tokensRequired: authRequired(shared.config) };
    const url = new URL(request.url);
    // graphql-ws requests are rebuilt from the upgrade request with a placeholder host; the Host
    // header is the one the client actually used.
    const host = request.headers.get("host") ?? url.host;
    const proto = url.protocol === "https:" || url.protocol === "wss:" ? "https:" : "http:";
    const origin = services.config.publicUrl ?? `${proto}//${host}`;
    if (!auth) return { ...services, origin };
    // HTTP and SSE were authenticated in onRequest; graphql-ws sends its token in connection_init.
    const principal =
      principalOf(request) ??
      (await auth.authenticate(connectionParams?.authorization ?? request.headers.get("authorization")));
    return { ...services, origin, auth: principal };
  };
}
