// gradstream runs: lists the runs of a running server, newest first.
import { graphql, parseRemoteArgs, UsageError } from "../lib/remote.ts";

const HELP = `usage: gradstream runs [--url http://localhost:4000/graphql] [--token T] [--first N] [--json]

Lists the newest runs of a running gradstream server: id, status, progress, last loss, name.`;

interface RunNode {
  id: string;
  name: string;
  status: string;
  stepsCompleted: number;
  totalSteps: number;
  bestValAccuracy: number | null;
  createdAt: string;
}

const QUERY = `query Runs($first: Int!) {
  runs(first: $first) { edges { node { id name status stepsCompleted totalSteps bestValAccuracy createdAt } } }
}`;

export async function main(args: string[]): Promise<number> {
  let remote: ReturnType<typeof parseRemoteArgs>;
  try {
    remote = parseRemoteArgs(args, { first: { type: "string" }, json: { type: "boolean" } });
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
        `${r.id.padStart(5)}  ${r.status.padEnd(11)}  ${steps.padStart(13)}  ${best.padStart(8)}  ${r.name}`,
      );
    }
    return 0;
  } catch (err) {
    console.error(`gradstream runs: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
