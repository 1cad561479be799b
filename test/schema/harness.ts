// In-process harness: a real SQLite file with the built-in models and datasets registered, the real
// schema on yoga, and yoga.fetch for requests (no sockets).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createYoga } from "graphql-yoga";
import { type Db, openDatabase, type TrainedRow } from "../../src/db/index.ts";
import { createRunManager } from "../../src/runs/manager.ts";
import type { RunManager } from "../../src/runs/types.ts";
import { schema } from "../../src/schema/index.ts";
import { externalRunsFor, MODELS_DIR, maskClientErrors } from "../../src/server/app.ts";
import { type Config, loadConfig } from "../../src/server/config.ts";
import type { Context } from "../../src/server/context.ts";
import { registerBuiltins } from "../../src/server/registry.ts";

export interface Harness {
  db: Db;
  config: Config;
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>>;
  fetch(request: Request): Promise<Response>;
  close(): Promise<void>;
}

export interface GqlResult<T> {
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export async function openHarness(
  env: Record<string, string> = {},
  makeManager: (db: Db, config: Config) => Promise<RunManager> = (db, config) =>
    createRunManager({ db, maxConcurrent: config.maxConcurrentRuns, maxQueued: config.subscriberMaxQueued }),
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "gradstream-schema-"));
  const config = loadConfig({ DATABASE_URL: `file:${join(dir, "test.db")}`, NODE_ENV: "test", ...env });
  const db = await openDatabase(config.databaseUrl);
  await registerBuiltins(db, MODELS_DIR);
  const runs = await makeManager(db, config);
  const external = externalRunsFor(db, runs, config);
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    maskedErrors: { maskError: maskClientErrors },
    logging: false,
    context: (): Context => ({ db, runs, external, config, origin: "http://test.local" }),
  });
  const fetchFn = (request: Request) => Promise.resolve(yoga.fetch(request));
  return {
    db,
    config,
    fetch: fetchFn,
    async gql<T>(query: string, variables?: Record<string, unknown>) {
      const res = await fetchFn(
        new Request("http://test.local/graphql", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query, variables }),
        }),
      );
      return (await res.json()) as GqlResult<T>;
    },
    async close() {
      await runs.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deterministic rows: loss wobbles around 0.7, accuracy alternates, so statistics are predictable. */
export function rows(fromStep: number, count: number, perEpoch = 10): TrainedRow[] {
  return Array.from({ length: count }, (_, i) => {
    const step = fromStep + i;
    return {
      step,
      epoch: Math.floor(step / perEpoch),
      batch: step % perEpoch,
      loss: 0.7 + (step % 3) * 0.1,
      accuracy: step % 2 === 0 ? 0.5 : 0.6,
      lr: 0.01,
      gradNorm: 1 + step / 100,
      confidence: 0.55,
      trueClassProb: 0.5,
      samples: 10,
      timeMs: 0.1,
    };
  });
}
