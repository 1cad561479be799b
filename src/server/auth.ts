// Access control: API tokens with a `read` scope (queries, subscriptions) and a `write` scope
// (mutations too; write implies read), sent as `Authorization: Bearer <token>` over HTTP and SSE and as
// `{ authorization: "Bearer <token>" }` in graphql-ws's connection_init payload.
//
// When tokens are required: HTTP/SSE without a valid token → 401 (WWW-Authenticate: Bearer) before the
// body is read; a read token on a mutation → 403; graphql-ws without a valid token → close 4401, a
// mutation on a read-token socket → close 4403 (graphql-ws's Unauthorized/Forbidden codes).
//
// Development default (GRADSTREAM_AUTH=open-localhost): a server bound to localhost, 127.0.0.1 or ::1
// lets token-less clients in with write access, and says so loudly at start. Any other HOST requires
// tokens whatever GRADSTREAM_AUTH says. A token that is sent is always checked, even when open.
import type { OperationTypeNode } from "graphql";
import { GraphQLError, getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Db } from "../db/index.ts";
import { countActiveTokens, findActiveToken, hashToken, type TokenScope, touchToken } from "../db/tokens.ts";
import type { Config } from "./config.ts";

export interface Principal {
  /** The token's id, or null for an anonymous caller of an open (localhost) server. */
  tokenId: number | null;
  name: string;
  scope: TokenScope;
}

export const ANONYMOUS: Principal = Object.freeze({ tokenId: null, name: "anonymous", scope: "write" });

export type AuthCode = "UNAUTHENTICATED" | "FORBIDDEN";

/** An authentication (401 / close 4401) or authorization (403 / close 4403) failure. */
export class AuthError extends GraphQLError {
  constructor(
    readonly code: AuthCode,
    message: string,
  ) {
    super(message, {
      extensions: {
        code,
        http: {
          status: code === "UNAUTHENTICATED" ? 401 : 403,
          ...(code === "UNAUTHENTICATED"
            ? { headers: { "www-authenticate": 'Bearer realm="gradstream"' } }
            : {}),
        },
      },
    });
  }
  /** The graphql-ws close code for this failure. */
  get closeCode(): number {
    return this.code === "UNAUTHENTICATED" ? 4401 : 4403;
  }
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase());
}

/** Tokens are required unless GRADSTREAM_AUTH=open-localhost and HOST is a loopback name/address. */
export function authRequired(config: Pick<Config, "auth" | "host">): boolean {
  return config.auth === "required" || !isLoopbackHost(config.host);
}

/** The token in "Bearer <token>" (case-insensitive scheme); null when absent, undefined when malformed. */
export function bearerToken(value: unknown): string | null | undefined {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
  return m ? m[1] : undefined;
}

export interface Auth {
  readonly required: boolean;
  /**
   * The principal for an Authorization header value (or graphql-ws's `authorization` field): a valid
   * token's, or ANONYMOUS when nothing was sent to an open server. Throws AuthError otherwise.
   */
  authenticate(authorization: unknown): Promise<Principal>;
}

export interface AuthOptions {
  /** How long a verified token is trusted without another lookup (ms); revocation takes this long. */
  cacheMs?: number;
  now?: () => number;
}

const TOUCH_EVERY_MS = 60_000;
const CACHE_MAX = 1_000;

export function createAuth(db: Db, config: Pick<Config, "auth" | "host">, opts: AuthOptions = {}): Auth {
  const required = authRequired(config);
  const cacheMs = opts.cacheMs ?? 2_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { principal: Principal; at: number }>();
  const touched = new Map<number, number>();

  return {
    required,
    async authenticate(authorization) {
      const token = bearerToken(authorization);
      if (token === null) {
        if (required) {
          throw new AuthError(
            "UNAUTHENTICATED",
            'this server requires an API token: send "Authorization: Bearer <token>" (graphql-ws: connection_init payload { authorization: "Bearer <token>" }); create one with gradstream token create',
          );
        }
        return ANONYMOUS;
      }
      if (token === undefined) {
        throw new AuthError("UNAUTHENTICATED", 'malformed authorization: expected "Bearer <token>"');
      }
      const key = hashToken(token);
      const t = now();
      const hit = cache.get(key);
      if (hit && t - hit.at < cacheMs) return hit.principal;
      const row = await findActiveToken(db, token);
      if (!row) {
        cache.delete(key);
        throw new AuthError("UNAUTHENTICATED", "unknown or revoked API token");
      }
      const principal: Principal = Object.freeze({
        tokenId: row.id,
        name: row.name,
        scope: row.scope === "write" ? "write" : "read",
      });
      if (cache.size >= CACHE_MAX) cache.clear();
      cache.set(key, { principal, at: t });
      if (t - (touched.get(row.id) ?? Number.NEGATIVE_INFINITY) >= TOUCH_EVERY_MS) {
        touched.set(row.id, t);
        // Best effort: a failed lastUsedAt write must not fail the request.
        touchToken(db, row.id, new Date(t)).catch(() => {});
      }
      return principal;
    },
  };
}

/** null when the principal may run this kind of operation, else the 403 / 4403 error. */
export function scopeError(
  principal: Principal,
  operation: OperationTypeNode | "query" | "mutation" | "subscription",
): AuthError | null {
  if (operation === "mutation" && principal.scope !== "write") {
    return new AuthError(
      "FORBIDDEN",
      `token "${principal.name}" has scope read (queries and subscriptions); mutations need a write token`,
    );
  }
  return null;
}

const principals = new WeakMap<Request, Principal>();

/** The principal the HTTP/SSE request was authenticated as (set by useAuth's onRequest). */
export function principalOf(request: Request): Principal | undefined {
  return principals.get(request);
}

function errorResponse(fetchAPI: { Response: typeof Response }, err: AuthError): Response {
  const http = err.extensions.http as { status: number; headers?: Record<string, string> };
  return new fetchAPI.Response(
    JSON.stringify({ errors: [{ message: err.message, extensions: { code: err.code } }] }),
    {
      status: http.status,
      headers: { "content-type": "application/graphql-response+json; charset=utf-8", ...http.headers },
    },
  );
}

/**
 * Yoga plugin: authenticates every HTTP and SSE request before its body is read (CORS preflights
 * excepted: browsers send them without credentials), and refuses mutations to read tokens. Must come
 * before the graphql-sse plugin, which answers /graphql/stream itself.
 */
export function useAuth(auth: Auth, opts: { graphiql?: boolean } = {}): Plugin<{ auth?: Principal }> {
  return {
    async onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === "OPTIONS") return;
      // With GraphiQL on, yoga answers every GET that accepts text/html with the GraphiQL page and runs
      // nothing, so the page loads without a token (its requests then carry one, set in its headers tab).
      if (
        opts.graphiql &&
        request.method === "GET" &&
        (request.headers.get("accept") ?? "").includes("text/html")
      ) {
        return;
      }
      try {
        principals.set(request, await auth.authenticate(request.headers.get("authorization")));
      } catch (err) {
        if (err instanceof AuthError) return endResponse(errorResponse(fetchAPI, err));
        throw err;
      }
    },
    onExecute({ args, setResultAndStopExecution }) {
      const principal = (args.contextValue as { auth?: Principal }).auth;
      const op = getOperationAST(args.document, args.operationName);
      if (!principal || !op) return;
      const err = scopeError(principal, op.operation);
      if (err) setResultAndStopExecution({ errors: [err] });
    },
  };
}

/** The lines logged at start: loud when the server is open. */
export function authBanner(config: Pick<Config, "auth" | "host">, activeTokens: number): string[] {
  if (!authRequired(config)) {
    const bar = "!".repeat(78);
    return [
      bar,
      `!! AUTH OPEN: bound to ${config.host} (loopback) with GRADSTREAM_AUTH=open-localhost, so requests`,
      "!! WITHOUT a token get full read/write access. Anyone who can reach this port can start runs.",
      "!! Set GRADSTREAM_AUTH=required (or bind HOST to another address) to require API tokens.",
      bar,
    ];
  }
  const why = config.auth === "required" ? "GRADSTREAM_AUTH=required" : `HOST=${config.host} is not loopback`;
  const lines = [`auth: API tokens required (${why}); ${activeTokens} active token(s)`];
  if (activeTokens === 0) {
    lines.push(
      "auth: WARNING no active tokens: every request will be refused; create one with `gradstream token create --scope write --name <name>`",
    );
  }
  return lines;
}

export async function authStartup(db: Db, config: Pick<Config, "auth" | "host">): Promise<string[]> {
  return authBanner(config, authRequired(config) ? await countActiveTokens(db) : 0);
}
