// Transport wiring: one HTTP server on one port serving /graphql over HTTP (GET/POST), SSE (yoga's
// "distinct connections" mode and graphql-sse's protocol) and graphql-ws over WebSocket. Every
// transport runs the same envelop pipeline (schema, plugins, context factory), so a plugin such as
// auth or a depth limit applies to all three.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { useGraphQLSSE } from "@graphql-yoga/plugin-graphql-sse";
import type { ExecutionArgs, GraphQLSchema } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { createYoga, type Plugin, type YogaInitialContext, type YogaServerOptions } from "graphql-yoga";
import { WebSocketServer } from "ws";
import { SharedSerializer } from "./shared-serialization.ts";

export interface TransportOptions<Ctx extends object> {
  schema: GraphQLSchema;
  /** Builds the per-operation context from the incoming request, whatever the transport. */
  context: (init: {
    request: Request;
    params?: unknown;
    connectionParams?: Record<string, unknown>;
  }) => Promise<Ctx> | Ctx;
  plugins?: Plugin[];
  cors?: { origin: string[] | "*" };
  graphiql?: boolean;
  /** yoga's error masking (e.g. a maskError that lets typed, client-facing errors through). */
  maskedErrors?: YogaServerOptions<Record<string, unknown>, Ctx>["maskedErrors"];
  /** Extra HTTP routes (e.g. model downloads) tried before yoga; return true when handled. */
  routes?: (req: IncomingMessage, res: import("node:http").ServerResponse) => boolean | Promise<boolean>;
  /** graphql-ws: close a socket that has not sent connection_init within this many ms. */
  connectionInitWaitTimeout?: number;
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
    cors: opts.cors
      ? { origin: opts.cors.origin === "*" ? "*" : opts.cors.origin, credentials: true }
      : undefined,
    context: (init: YogaInitialContext & { connectionParams?: Record<string, unknown> }) =>
      opts.context({ request: init.request, params: init.params, connectionParams: init.connectionParams }),
    plugins: [useGraphQLSSE({ endpoint: "/graphql/stream" }), ...(opts.plugins ?? [])],
  });

  const server = createServer(async (req, res) => {
    try {
      if (opts.routes && (await opts.routes(req, res))) return;
    } catch (err) {
      res.statusCode = 500;
      res.end(err instanceof Error ? err.message : String(err));
      return;
    }
    yoga(req, res);
  });

  const wss = new WebSocketServer({ server, path: "/graphql" });
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
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, _id, payload) => {
        const request = ctx.extra.request;
        const headers = new Headers();
        for (const [k, v] of Object.entries(request.headers)) {
          if (typeof v === "string") headers.set(k, v);
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          request: new Request(`http://localhost${request.url ?? "/graphql"}`, { headers }),
          connectionParams: ctx.connectionParams,
          socket: ctx.extra.socket,
          params: payload,
        });
        const document = parse(payload.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
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
