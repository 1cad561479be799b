// Transport wiring: one HTTP server on one port serving /graphql over HTTP (GET/POST), SSE (yoga's
// "distinct connections" mode and graphql-sse's protocol) and graphql-ws over WebSocket. Every
// transport runs the same envelop pipeline (schema, plugins, context factory), so a plugin such as
// auth or a depth limit applies to all three.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { useGraphQLSSE } from "@graphql-yoga/plugin-graphql-sse";
import {
  type ExecutionArgs,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  type OperationTypeNode,
} from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { createYoga, type Plugin, type YogaInitialContext, type YogaServerOptions } from "graphql-yoga";
import { WebSocketServer } from "ws";
import type { Edges } from "./edges.ts";
import { SharedSerializer } from "./shared-serialization.ts";

export interface TransportOptions<Ctx extends object> {
  schema: GraphQLSchema;
  /** Builds the per-operation context from the incoming request, whatever the transport. */
  context: (init: {
    request: Request;
    params?: unknown;
    connectionParams?: Record<string, unknown>;
    /** The peer's address (rate limits key anonymous callers by it). */
    clientAddress?: string;
  }) => Promise<Ctx> | Ctx;
  plugins?: Plugin[];
  /**
   * Host/Origin/content-type rules checked before anything else on HTTP and on the WebSocket upgrade;
   * a refusal is a 403 naming the rule. CORS headers then echo only origins these rules let through.
   */
  edges?: Edges;
  graphiql?: boolean;
  /** yoga's error masking (e.g. a maskError that lets typed, client-facing errors through). */
  maskedErrors?: YogaServerOptions<Record<string, unknown>, Ctx>["maskedErrors"];
  /** Extra HTTP routes (e.g. model downloads) tried before yoga; return true when handled. */
  routes?: (req: IncomingMessage, res: import("node:http").ServerResponse) => boolean | Promise<boolean>;
  /** graphql-ws: close a socket that has not sent connection_init within this many ms. */
  connectionInitWaitTimeout?: number;
  /** graphql-ws connection_init: resolve to a refusal to close the socket with its code (e.g. 4401). */
  onConnect?: (connectionParams: Record<string, unknown> | undefined) => Promise<WsRefusal | null>;
  /** graphql-ws, before each operation runs: resolve to a refusal to close the socket (e.g. 4403). */
  onOperation?: (
    operation: OperationTypeNode,
    connectionParams: Record<string, unknown> | undefined,
  ) => Promise<WsRefusal | null>;
  /** graphql-ws: operations one socket may have running at once; one more gets an error message. */
  maxOperationsPerSocket?: number;
}

export interface WsRefusal {
  code: number;
  reason: string;
}

export interface Transport {
  server: Server;
  listen(port: number, host: string): Promise<string>;
  close(): Promise<void>;
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export function createTransport<Ctx extends object>(opts: TransportOptions<Ctx>): Transport {
  const yoga = createYoga<Record<string, unknown>, Ctx>({
    schema: opts.schema,
    graphqlEndpoint: "/graphql",
    graphiql: opts.graphiql ?? false,
    landingPage: false,
    maskedErrors: opts.maskedErrors ?? true,
    // Every Origin that reaches yoga passed `edges` (own origin or CORS_ORIGINS), so echoing it is safe.
    // No credentials: gradstream has no cookies; tokens travel in the Authorization header.
    cors: (request) => {
      const origin = request.headers.get("origin");
      return origin ? { origin, credentials: false } : false;
    },
    context: (
      init: YogaInitialContext & {
        connectionParams?: Record<string, unknown>;
        clientAddress?: string;
        req?: IncomingMessage;
      },
    ) =>
      opts.context({
        request: init.request,
        params: init.params,
        connectionParams: init.connectionParams,
        // HTTP: node's request is yoga's server context; graphql-ws passes the upgrade's address below.
        clientAddress: init.clientAddress ?? init.req?.socket.remoteAddress,
      }),
    // The app's plugins first: graphql-sse answers /graphql/stream inside its own onRequest, so auth and
    // size limits must run before it.
    plugins: [...(opts.plugins ?? []), useGraphQLSSE({ endpoint: "/graphql/stream" })],
  });

  const server = createServer(async (req, res) => {
    const refusal = opts.edges?.check(req.method ?? "GET", req.headers, "http");
    if (refusal) {
      res
        .writeHead(403, { "content-type": "application/json; charset=utf-8" })
        .end(JSON.stringify({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] }));
      return;
    }
    try {
      if (opts.routes && (await opts.routes(req, res))) return;
    } catch (err) {
      res.statusCode = 500;
      res.end(err instanceof Error ? err.message : String(err));
      return;
    }
    yoga(req, res);
  });

  const wss = new WebSocketServer({
    server,
    path: "/graphql",
    // Browsers apply no CORS to WebSockets: the upgrade's Host and Origin are checked here instead.
    verifyClient: (info, done) => {
      const refusal = opts.edges?.check("GET", info.req.headers, "websocket");
      if (refusal) done(false, 403, refusal.message, { "content-type": "text/plain; charset=utf-8" });
      else done(true);
    },
  });
  // Registered before graphql-ws's own listener: every outgoing message passes through expand(),
  // which splices in a shared result's JSON serialized once for all subscribers.
  const serializer = new SharedSerializer();
  wss.on("connection", (socket) => {
    const send = socket.send.bind(socket);
    socket.send = ((data: unknown, ...rest: unknown[]) =>
      (send as (...a: unknown[]) => void)(
        typeof data === "string" ? serializer.expand(data) : data,
        ...rest,
      )) as typeof socket.send;
  });
  const wsServer = useServer(
    {
      connectionInitWaitTimeout: opts.connectionInitWaitTimeout ?? 3_000,
      jsonMessageReplacer: serializer.replacer,
      onNext: (_ctx, _id, _payload, _args, result) => serializer.onNext(result),
      onConnect: async (ctx) => {
        const refusal = await opts.onConnect?.(ctx.connectionParams);
        if (!refusal) return true;
        ctx.extra.socket.close(refusal.code, refusal.reason.slice(0, 120));
        return false;
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, _id, payload) => {
        const max = opts.maxOperationsPerSocket ?? Number.POSITIVE_INFINITY;
        // graphql-ws has already registered this operation's id in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > max) {
          return [
            new GraphQLError(
              `this connection already runs ${max} operations (MAX_SUBSCRIPTIONS_PER_CONNECTION); complete one or open another connection`,
              { extensions: { code: "TOO_MANY_SUBSCRIPTIONS" } },
            ),
          ];
        }
        const request = ctx.extra.request;
        const headers = new Headers();
        for (const [k, v] of Object.entries(request.headers)) {
          if (typeof v === "string") headers.set(k, v);
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          // POST: yoga refuses mutations on a GET request, and a WebSocket message is not one.
          request: new Request(`http://localhost${request.url ?? "/graphql"}`, { method: "POST", headers }),
          connectionParams: ctx.connectionParams,
          clientAddress: request.socket.remoteAddress,
          socket: ctx.extra.socket,
          params: payload,
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query);
        } catch (err) {
          // A syntax error (or a parse-time limit) answers this operation; it must not close the socket.
          if (err instanceof GraphQLError) return [err];
          throw err;
        }
        const op = getOperationAST(document, payload.operationName);
        if (op && opts.onOperation) {
          const refusal = await opts.onOperation(op.operation, ctx.connectionParams);
          if (refusal) {
            ctx.extra.socket.close(refusal.code, refusal.reason.slice(0, 120));
            return [new GraphQLError(refusal.reason)];
          }
        }
        let errors: readonly GraphQLError[];
        try {
          errors = validate(schema, document);
        } catch (err) {
          // Some validation plugins (GraphQL Armor's limits) throw their GraphQLError instead.
          if (err instanceof GraphQLError) return [err];
          throw err;
        }
        if (errors.length > 0) return [...errors];
        return {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const addr = server.address() as AddressInfo;
          const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
          resolve(`http://${shownHost}:${addr.port}/graphql`);
        });
      });
    },
    async close() {
      // dispose() closes every socket with 1001 (going away) and completes their subscriptions, so
      // clients see a clean close rather than a reset.
      await wsServer.dispose();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
