// Execute a subscription event once for every subscriber with the same selection.
//
// Stock graphql-js executes the subscription's selection set once per event *per subscriber*; with
// 1,000 dashboards on one run that is 1,000 identical executions of every chunk (measured with stock
// yoga + graphql-ws: per-subscriber execution, promises and GC dominated the ≈115 µs per delivery). For root fields whose
// results are pure functions of the event (no context, no arguments beyond the document's), the
// ExecutionResult is the same for every subscriber with the same document, operation and variables,
// so it is computed once and shared. The cache key is the event's *content* (its key from keyOf), not
// its identity, because each subscriber's resumable stream may hand on a trimmed copy of a chunk;
// persisted rows never change, so equal keys mean equal results.
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  getOperationAST,
  print,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { sharedResults } from "./shared-serialization.ts";

export interface SharedExecutionOptions {
  /** Subscription root fields whose selection results depend only on the event. */
  fields: readonly string[];
  /** A key identifying the event's content, or null to execute it per subscriber. */
  keyOf: (event: unknown) => string | null;
  /** Results kept (oldest evicted first). */
  cacheSize?: number;
}

export interface SharedExecutionStats {
  executions: number;
  shared: number;
}

const printed = new WeakMap<DocumentNode, string>();
function documentKey(doc: DocumentNode): string {
  let key = printed.get(doc);
  if (key === undefined) {
    key = print(doc);
    printed.set(doc, key);
  }
  return key;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === "object" && v !== null && Symbol.asyncIterator in v;
}

export function useSharedSubscriptionExecution(
  opts: SharedExecutionOptions,
): Plugin & { stats: SharedExecutionStats } {
  const cache = new Map<string, Promise<ExecutionResult>>();
  const max = opts.cacheSize ?? 1024;
  const stats: SharedExecutionStats = { executions: 0, shared: 0 };

  function executeShared(
    args: ExecutionArgs,
    selectionKey: string,
    event: unknown,
  ): Promise<ExecutionResult> {
    const eventKey = opts.keyOf(event);
    const run = async () => {
      stats.executions++;
      return (await execute({ ...args, rootValue: event })) as ExecutionResult;
    };
    if (eventKey === null) return run();
    const shared = async () => {
      const result = await run();
      sharedResults.add(result);
      return result;
    };
    const key = `${eventKey}\u0000${selectionKey}`;
    const hit = cache.get(key);
    if (hit) {
      stats.shared++;
      return hit;
    }
    const result = shared();
    cache.set(key, result);
    if (cache.size > max) cache.delete(cache.keys().next().value as string);
    return result;
  }

  async function subscribeShared(
    args: ExecutionArgs,
  ): Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source as ExecutionResult;
    const selectionKey = `${documentKey(args.document)}\u0000${args.operationName ?? ""}\u0000${JSON.stringify(args.variableValues ?? {})}`;
    const it = source[Symbol.asyncIterator]();
    // A hand-written iterator (not an async generator) so return() reaches the source at once, even
    // while a next() is pending, exactly like graphql-js's own mapAsyncIterator.
    const mapped: AsyncGenerator<ExecutionResult, void, void> = {
      [Symbol.asyncIterator]() {
        return mapped;
      },
      async next() {
        const r = await it.next();
        if (r.done) return { value: undefined, done: true };
        return { value: await executeShared(args, selectionKey, r.value), done: false };
      },
      async return() {
        await it.return?.();
        return { value: undefined, done: true };
      },
      async throw(err: unknown) {
        await it.return?.();
        throw err;
      },
    };
    return mapped;
  }

  return {
    stats,
    onSubscribe({ args, setSubscribeFn }) {
      const op = getOperationAST(args.document, args.operationName);
      const first = op?.selectionSet.selections[0];
      if (op?.selectionSet.selections.length !== 1 || first?.kind !== "Field") return;
      if (!opts.fields.includes(first.name.value)) return;
      setSubscribeFn(subscribeShared as typeof import("graphql").subscribe);
    },
  };
}

/** keyOf for BatchChunkEvent: (run, first step, last step, rows, final) identifies a chunk's content. */
export function chunkKey(event: unknown): string | null {
  if (typeof event !== "object" || event === null) return null;
  const e = event as { runId?: unknown; rows?: unknown; lastStep?: unknown; final?: unknown };
  if (typeof e.runId !== "number" || !Array.isArray(e.rows) || typeof e.lastStep !== "number") return null;
  const firstRow: unknown = e.rows[0];
  const firstStep =
    typeof firstRow === "object" && firstRow !== null && "step" in firstRow ? String(firstRow.step) : "-";
  return `${e.runId}:${firstStep}:${e.lastStep}:${e.rows.length}:${String(e.final)}`;
}
