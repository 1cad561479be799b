// What every resolver sees, whatever the transport. The server (src/server/context.ts) builds it; the
// schema only names the shapes it reads, so it imports nothing from src/server.
import type { Db } from "../db/index.ts";
import type { ExternalRuns } from "../runs/external.ts";
import type { RunManager } from "../runs/types.ts";

/** The limits the schema enforces itself (page and series sizes, uploads), from the server's config. */
export interface SchemaConfig {
  maxUploadBytes: number;
  /** DATA_DIR roots; uploadDataset stores into the first. */
  dataDirs: readonly string[];
  limits: {
    maxPageSize: number;
    maxPoints: number;
    maxBatchElements: number;
    maxModelNodes: number;
    maxModelParameters: number;
    maxCustomMetrics: number;
  };
}

export interface Context {
  db: Db;
  runs: RunManager;
  /** EXTERNAL runs: createRun, logMetrics, logEpoch, finishRun (src/runs/external.ts). */
  external: ExternalRuns;
  config: SchemaConfig;
  /**
   * Base of the URLs the API hands out (e.g. http://localhost:4000): PUBLIC_URL when set, else the Host
   * the client used, which the server's edges (src/server/edges.ts) only let through when it names
   * this server.
   */
  origin: string;
  /** Who is calling; absent for in-process callers that bypass the transports. */
  auth?: { name: string; scope: "read" | "write" };
  /** Whether this server requires API tokens (set by the server's context factory). */
  tokensRequired?: boolean;
}
