// gradstream runs: lists the runs of a running server, newest first; `runs export ID` streams one run's
// rows (GET /runs/ID/metrics.csv|ndjson) to standard output.
import { Writable } from "node:stream";
import { authHeaders, graphql, parseRemoteArgs, type Remote, UsageError } from "../lib/remote.ts";

const HELP = `usage: gradstream runs [--url http://localhost:4000/graphql] [--token T] [--first N] [--json]
       gradstream runs export <runId> [--format csv|ndjson] [--url …] [--token T]

Lists the newest runs of a running gradstream server: id, status, progress, last loss, name.
"export" writes every batch row of a run to standard output as CSV (default) or NDJSON, streamed.`;

/** Streams GET /runs/{id}/metrics.{format} to stdout (constant memory: the body is piped). */
async function exportRun(remote: Remote, runId: string, format: string): Promise<number> {
  const url = `${remote.url.replace(/\/graphql\/?$/, "")}/runs/${runId}/metrics.${format}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: authHeaders(remote.token) });
  } catch (err) {
    const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    console.error(`gradstream runs export: cannot reach ${url} (${why})`);
    return 1;
  }
  if (!res.ok || !res.body) {
    console.error(`gradstream runs export: ${url} answered HTTP ${res.status}: ${(await res.text()).trim()}`);
    return 1;
  }
  await res.body.pipeTo(Writable.toWeb(process.stdout));
  return 0;
}

interface RunNode {
  id: string;
  databaseId: number;
  name: string;
  status: string;
  stepsCompleted: number;
  totalSteps: number;
  bestValAccuracy: number | null;
  createdAt: string;
}

const QUERY = `query Runs($first: Int!) {
  runs(first: $first) { edges { node { id databaseId name status stepsCompleted totalSteps bestValAccuracy createdAt } } }
}`;

export async function main(args: string[]): Promise<number> {
  let remote: ReturnType<typeof parseRemoteArgs>;
  try {
    remote = parseRemoteArgs(args, {
      first: { type: "string" },
      json: { type: "boolean" },
      format: { type: "string" },
    });
    if (remote !== "help" && remote.positionals[0] === "export") {
      const [, runId, ...more] = remote.positionals;
      if (!runId || !/^\d+$/.test(runId) || more.length)
        throw new UsageError("runs export takes exactly one run id (a positive integer)");
      const format = typeof remote.flags.format === "string" ? remote.flags.format : "csv";
      if (format !== "csv" && format !== "ndjson")
        throw new UsageError(`--format must be csv or ndjson, got "${format}"`);
      return await exportRun(remote, runId, format);
    }
    if (remote !== "help" && remote.positionals.length) {
      throw new UsageError(`unexpected argument "${remote.positionals[0]}"`);
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`gradstream runs: ${err.message}\n\n${HELP}`);
    return 2;
  }
  if (remote === "help") {
    console.log(HELP);
    return 0;
  }
  const first = Number(remote.flags.first ?? 20);
  if (!Number.isInteger(first) || first < 1 || first > 1000) {
    console.error(`gradstream runs: --first must be an integer from 1 to 1000, got "${remote.flags.first}"`);
    return 2;
  }
  try {
    const data = await graphql<{ runs: { edges: { node: RunNode }[] } }>(remote, QUERY, { first });
    const runs = data.runs.edges.map((e) => e.node);
    if (remote.flags.json) {
      for (const r of runs) console.log(JSON.stringify(r));
      return 0;
    }
    if (runs.length === 0) {
      console.log("no runs yet: start one with the startRun or startExperiment mutation");
      return 0;
    }
    console.log(
      `${"ID".padStart(5)}  ${"STATUS".padEnd(11)}  ${"STEPS".padStart(13)}  ${"BEST VAL".padStart(8)}  NAME`,
    );
    for (const r of runs) {
      const steps = `${r.stepsCompleted}/${r.totalSteps}`;
      const best = r.bestValAccuracy === null ? "-" : r.bestValAccuracy.toFixed(4);
      console.log(
        `${String(r.databaseId).padStart(5)}  ${r.status.padEnd(11)}  ${steps.padStart(13)}  ${best.padStart(8)}  ${r.name}`,
      );
    }
    return 0;
  } catch (err) {
    console.error(`gradstream runs: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
