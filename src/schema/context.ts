// What every resolver sees, whatever the transport. The server (src/server/context.ts) builds it; the
// schema only names the shapes it reads, so it imports nothing from src/server.
import type { Db } from "../db/index.ts";
import type { RunManager } from "../runs/types.ts";

/** The limits the schema enforces itself (page and series sizes, uploads), from the server's config. */
export interface SchemaConfig {
  maxUploadBytes: number;
  limits: {
    maxPageSize: number;
    maxPoints: number;
    maxBatchElements: number;
    maxModelNodes: number;
    maxModelParameters: number;
  };
}

export interface Context {
  db: Db;
  runs: RunManager;
  config: SchemaConfig;
  /** Origin the client reached us on (e.g. http://localhost:4000), for URLs the API hands out. */
  origin: string;
  /** Who is calling; absent for in-process callers that bypass the transports. */
  auth?: unknown;
}
