// One execution (and one JSON serialization) per chunk for all subscribers with the same selection.
import { createClient } from "graphql-ws";
import { createSchema } from "graphql-yoga";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Broadcaster } from "../../src/runs/broadcast.ts";
import type { BatchChunkEvent } from "../../src/runs/types.ts";
import { createTransport, type Transport } from "../../src/server/http.ts";
import { chunkKey, useSharedSubscriptionExecution } from "../../src/server/shared-execution.ts";

const bus = new Broadcaster<BatchChunkEvent>({ maxQueued: 64 });
let resolveCount = 0;
const schema = createSchema<object>({
  typeDefs: `type Query { ok: Boolean! }
    type Row { step: Int! loss: Float! }
    type Chunk { runId: Int! lastStep: Int! final: Boolean! rows: [Row!]! }
    type Subscription { batchMetrics(runId: Int!): Chunk! other(runId: Int!): Chunk! }`,
  resolvers: {
    Query: { ok: () => true },
    Chunk: {
      rows: (c: BatchChunkEvent) => {
        resolveCount++;
        return c.rows;
      },
    },
    Subscription: {
      batchMetrics: {
        subscribe: (_: unknown, a: { runId: number }) => bus.subscribe(`b:${a.runId}`),
        resolve: (c: BatchChunkEvent) => c,
      },
      other: {
        subscribe: (_: unknown, a: { runId: number }) => bus.subscribe(`b:${a.runId}`),
        resolve: (c: BatchChunkEvent) => c,
      },
    },
  },
});
const plugin = useSharedSubscriptionExecution({ fields: ["batchMetrics"], keyOf: chunkKey });
let transport: Transport;
let url: string;
beforeAll(async () => {
  transport = createTransport({ schema, context: () => ({}), plugins: [plugin] });
  url = (await transport.listen(0, "127.0.0.1")).replace(/^http/, "ws");
});
afterAll(() => transport.close());

function chunk(runId: number, first: number, n: number, final = false): BatchChunkEvent {
  const rows = Array.from({ length: n }, (_, i) => ({
    step: first + i,
    epoch: 0,
    batch: first + i,
    loss: 0.5 + i / 100,
    accuracy: 0.5,
    lr: 0.01,
    gradNorm: 1,
    confidence: 0.5,
    trueClassProb: 0.5,
    samples: 1,
    timeMs: 1,
  }));
  return { runId, rows, lastStep: first + n - 1, final };
}

async function subscribers(
  field: string,
  runId: number,
  n: number,
): Promise<{ results: unknown[][]; done: Promise<void> }> {
  const results: unknown[][] = [];
  const dones: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0 });
    const got: unknown[] = [];
    results.push(got);
    dones.push(
      new Promise<void>((resolve, reject) =>
        client.subscribe(
          { query: `subscription { ${field}(runId: ${runId}) { lastStep final rows { step loss } } }` },
          {
            next: (r) => {
              got.push(r.data);
              if ((r.data?.[field] as { final?: boolean } | undefined)?.final)
                Promise.resolve(client.dispose()).then(() => resolve());
            },
            error: reject,
            complete: () => resolve(),
          },
        ),
      ),
    );
  }
  while (bus.subscriberCount(`b:${runId}`) < n) await new Promise((r) => setTimeout(r, 10));
  return { results, done: Promise.all(dones).then(() => undefined) };
}

describe("shared subscription execution", () => {
  it("executes each chunk once for three subscribers with the same selection, and they all get identical data", async () => {
    const before = { ...plugin.stats };
    resolveCount = 0;
    const { results, done } = await subscribers("batchMetrics", 7, 3);
    bus.publish("b:7", chunk(7, 0, 10));
    bus.publish("b:7", chunk(7, 10, 10));
    bus.publish("b:7", chunk(7, 20, 5, true));
    await done;
    expect(results[0]).toHaveLength(3);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(
      (results[0][2] as { batchMetrics: { rows: { step: number }[] } }).batchMetrics.rows.map((r) => r.step),
    ).toEqual([20, 21, 22, 23, 24]);
    expect(plugin.stats.executions - before.executions).toBe(3);
    expect(plugin.stats.shared - before.shared).toBe(6);
    expect(resolveCount).toBe(3);
  });

  it("leaves root fields outside the allow-list to per-subscriber execution", async () => {
    const before = { ...plugin.stats };
    resolveCount = 0;
    const { results, done } = await subscribers("other", 8, 2);
    bus.publish("b:8", chunk(8, 100, 2, true));
    await done;
    expect(results[0]).toEqual(results[1]);
    expect(plugin.stats.executions - before.executions).toBe(0);
    expect(resolveCount).toBe(2);
  });
});
