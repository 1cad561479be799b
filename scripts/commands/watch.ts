// gradstream watch <runId>: subscribes to a running server over graphql-ws and prints each batch as it
// is persisted, in the reference experiments' style. A dropped connection is resumed from the last
// printed step (the server replays from its database), so no batch is printed twice or skipped.
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { globalId } from "../../src/errors.ts";
import { authHeaders, graphql, parseRemoteArgs, UsageError } from "../lib/remote.ts";

const HELP = `usage: gradstream watch <runId> [--url http://localhost:4000/graphql] [--token T] [--after STEP] [--json]

Prints every batch of a run, live, until the run ends: replayed from the start (or after --after),
then as it trains. Exit codes: 0 the run completed, 1 it failed or was cancelled, or the server is
unreachable, 2 bad usage.`;

interface Row {
  step: number;
  epoch: number;
  batch: number;
  loss: number | null;
  accuracy: number | null;
}

/** An EXTERNAL run's step may leave a metric out (null). */
const fixed = (v: number | null) => (v === null ? "-" : v.toFixed(4));

const SUBSCRIPTION = `subscription Watch($runId: ID!, $afterStep: Int!) {
  batchMetrics(runId: $runId, afterStep: $afterStep) { lastStep final rows { step epoch batch loss accuracy } }
}`;

export async function main(args: string[]): Promise<number> {
  let remote: ReturnType<typeof parseRemoteArgs>;
  let runId = "";
  let after = -1;
  try {
    remote = parseRemoteArgs(args, { after: { type: "string" }, json: { type: "boolean" } });
    if (remote !== "help") {
      if (remote.positionals.length !== 1) throw new UsageError("expected exactly one run id");
      runId = remote.positionals[0];
      if (!/^\d{1,15}$/.test(runId) || Number(runId) < 1)
        throw new UsageError(`run id must be a positive integer, got "${runId}"`);
      if (remote.flags.after !== undefined) {
        after = Number(remote.flags.after);
        if (!Number.isInteger(after) || after < -1) {
          throw new UsageError(`--after must be an integer ≥ -1, got "${remote.flags.after}"`);
        }
      }
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`gradstream watch: ${err.message}\n\n${HELP}`);
    return 2;
  }
  if (remote === "help") {
    console.log(HELP);
    return 0;
  }
  const json = remote.flags.json === true;
  const client = createClient({
    url: remote.url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: authHeaders(remote.token),
    retryAttempts: 5,
    shouldRetry: () => true,
  });
  try {
    // Resubscribing after an error resumes from the last printed step; the server dedupes by step.
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const result of client.iterate({
          query: SUBSCRIPTION,
          variables: { runId: globalId("run", Number(runId)), afterStep: after },
        })) {
          if (result.errors?.length) throw new Error(result.errors.map((e) => e.message).join("; "));
          const chunk = (result.data as { batchMetrics: { lastStep: number; final: boolean; rows: Row[] } })
            .batchMetrics;
          for (const r of chunk.rows) {
            console.log(
              json
                ? JSON.stringify(r)
                : `Epoch: ${r.epoch + 1}, Batch Loss: ${fixed(r.loss)}, Batch Accuracy: ${fixed(r.accuracy)}`,
            );
          }
          after = Math.max(after, chunk.lastStep);
        }
        break;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (attempt >= 5 || !/resubscribe|fell .* behind|socket|closed|ECONN/i.test(message)) throw err;
      }
    }
    const { run } = await graphql<{ run: { status: string; errorMessage: string | null } | null }>(
      remote,
      `query($id: ID!) { run(id: $id) { status errorMessage } }`,
      { id: globalId("run", Number(runId)) },
    );
    if (!run) throw new Error(`unknown run ${runId}`);
    if (!json) console.error(`run ${runId} ${run.status}${run.errorMessage ? `: ${run.errorMessage}` : ""}`);
    return run.status === "COMPLETED" ? 0 : 1;
  } catch (err) {
    const message =
      err instanceof Error ? err.message : Array.isArray(err) ? JSON.stringify(err) : String(err);
    console.error(`gradstream watch: ${message}`);
    return 1;
  } finally {
    await client.dispose();
  }
}
