// Request-shape and resource limits (each configurable in config.ts, documented in the README):
// - GraphQL Armor: depth, cost, tokens (checked while parsing, before a huge document is built),
//   aliases and directives per operation, on HTTP, SSE and graphql-ws alike (they share the envelop
//   pipeline's parse and validate);
// - the size of a non-multipart request body (uploads have their own limit, MAX_UPLOAD_BYTES);
// - a rate limit on the mutations that start training (startRun, startExperiment), per token or per
//   client address, shared through Redis when REDIS_URL is set.
// `first`/`maxPoints`, model parameters and batchSize × input size are checked by the resolvers that
// own those arguments (src/schema/), against the same Limits; sockets' operation count by http.ts.
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { GraphQLError, getOperationAST, Kind } from "graphql";
import type { Plugin } from "graphql-yoga";
import { Redis } from "ioredis";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import type { Principal } from "./auth.ts";
import type { Limits } from "./config.ts";

/** Depth, cost, token, alias and directive limits (GraphQL Armor), with messages naming the setting. */
export function useArmor(limits: Limits): Plugin {
  return EnvelopArmorPlugin({
    maxDepth: {
      n: limits.maxDepth,
      exposeLimits: true,
    },
    costLimit: {
      maxCost: limits.maxCost,
      exposeLimits: true,
    },
    maxTokens: {
      n: limits.maxTokens,
      exposeLimits: true,
    },
    maxAliases: {
      n: limits.maxAliases,
      exposeLimits: true,
    },
    maxDirectives: { n: 50, exposeLimits: true },
    // Field suggestions stay on: the schema is public (introspection is allowed) and they help clients.
    blockFieldSuggestion: { enabled: false },
  }) as Plugin;
}

function jsonError(
  fetchAPI: { Response: typeof Response },
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { "content-type": "application/graphql-response+json; charset=utf-8", ...headers },
  });
}

/**
 * Refuses a non-multipart request body over maxBytes from its Content-Length, before yoga reads it,
 * and a chunked body with no length at all (411), which could otherwise grow without bound.
 */
export function useRequestSizeLimit(maxBytes: number): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method !== "POST" && request.method !== "PUT") return;
      const type = request.headers.get("content-type") ?? "";
      if (type.startsWith("multipart/form-data")) return;
      const raw = request.headers.get("content-length");
      if (raw === null) {
        if (request.headers.get("transfer-encoding")) {
          endResponse(
            jsonError(fetchAPI, 411, "LENGTH_REQUIRED", "send the request body with a Content-Length header"),
          );
        }
        return;
      }
      const length = Number(raw);
      if (length > maxBytes) {
        endResponse(
          jsonError(
            fetchAPI,
            413,
            "PAYLOAD_TOO_LARGE",
            `the request body is ${length} bytes; the limit is ${maxBytes} bytes (MAX_REQUEST_BYTES)`,
          ),
        );
      }
    },
  };
}

export interface RateLimiter {
  /** Counts one call for key; resolves to 0 when allowed, else the ms until the next call is allowed. */
  take(key: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * At most `limit` calls per key in each window of `windowMs` (rate-limiter-flexible's fixed window),
 * kept in memory, or in Redis when redisUrl is set so every API process shares the count (Redis keeps
 * whole seconds: the window rounds up to one).
 */
export async function createRateLimiter(
  limit: number,
  windowMs: number,
  redisUrl: string | null = null,
): Promise<RateLimiter> {
  let limiter: RateLimiterAbstract;
  let redis: Redis | null = null;
  const inMemory = new RateLimiterMemory({ keyPrefix: "runrate", points: limit, duration: windowMs / 1000 });
  if (redisUrl) {
    redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: false });
    // ioredis reconnects by itself; without a listener every failed attempt is an unhandled "error"
    // event, which ends the process. Logged once per outage.
    let down = false;
    redis.on("error", (err: Error) => {
      if (!down)
        console.error(
          `gradstream: rate limiter's redis ${redisUrl} unreachable (${err.message}); counting in this process until it is back`,
        );
      down = true;
    });
    redis.on("ready", () => {
      down = false;
    });
    await redis.connect();
    limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: "gradstream:runrate",
      points: limit,
      duration: Math.max(1, Math.ceil(windowMs / 1000)),
      // While Redis is down, each process counts on its own (the same limit per process) rather than
      // refusing every run or letting all through.
      insuranceLimiter: inMemory,
    });
  } else {
    limiter = inMemory;
  }
  return {
    async take(key) {
      try {
        await limiter.consume(key);
        return 0;
      } catch (res) {
        if (res instanceof RateLimiterRes) return Math.max(1, res.msBeforeNext);
        throw res;
      }
    },
    async close() {
      if (redis) await redis.quit().catch(() => {});
    },
  };
}

export const RATE_LIMITED_FIELDS: readonly string[] = ["startRun", "startExperiment", "createRun"];

/** The key a caller is rate-limited under: its token, or its client address when anonymous. */
export function rateKey(principal: Principal | undefined, clientAddress: string | undefined): string {
  return principal?.tokenId != null ? `token:${principal.tokenId}` : `address:${clientAddress ?? "unknown"}`;
}

/**
 * Counts every startRun/startExperiment field of a mutation against the caller's window (valid or
 * not: validation is work too) and refuses the whole operation, with code RATE_LIMITED, HTTP 429 and
 * retryAfterMs, once the window is full.
 */
export function useRunRateLimit(limiter: RateLimiter, limits: Limits): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const op = getOperationAST(args.document, args.operationName);
      if (op?.operation !== "mutation") return;
      let calls = 0;
      for (const sel of op.selectionSet.selections) {
        if (sel.kind === Kind.FIELD && RATE_LIMITED_FIELDS.includes(sel.name.value)) calls++;
      }
      if (calls === 0) return;
      const ctx = args.contextValue as { auth?: Principal; clientAddress?: string };
      const key = rateKey(ctx.auth, ctx.clientAddress);
      for (let i = 0; i < calls; i++) {
        const wait = await limiter.take(key);
        if (wait > 0) {
          const seconds = Math.ceil(wait / 1000);
          setResultAndStopExecution({
            errors: [
              new GraphQLError(
                `rate limit: at most ${limits.runRateLimit} startRun/startExperiment/createRun calls per ${limits.runRateWindowMs} ms per token, or per client address without one (RUN_RATE_LIMIT, RUN_RATE_WINDOW_MS); retry in ${seconds} s`,
                {
                  extensions: {
                    code: "RATE_LIMITED",
                    retryAfterMs: wait,
                    http: { status: 429, headers: { "retry-after": String(seconds) } },
                  },
                },
              ),
            ],
          });
          return;
        }
      }
    },
  };
}
