// A typed client: subscribes to a run's batchMetrics over graphql-ws and hands each chunk's rows to
// the caller, resuming after the last step it saw when the connection drops. Every field it reads
// is checked against schema.graphql by the TypeScript compiler (rename a field in the query and
// `tsc` fails here).
//
//   npx tsx examples/typed-client/watch.ts http://localhost:4000/graphql UnVuOjE=
import { print } from "graphql";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { graphql, type ResultOf, type VariablesOf } from "./graphql.ts";

export const WatchBatches = graphql(`
  subscription WatchBatches($runId: ID!, $afterStep: Int!) {
    batchMetrics(runId: $runId, afterStep: $afterStep) {
      runId
      lastStep
      final
      rows { step epoch loss accuracy lr }
    }
  }
`);

export type Chunk = ResultOf<typeof WatchBatches>["batchMetrics"];
export type Row = Chunk["rows"][number];

/** One row as a line; null metrics (an EXTERNAL run's step may leave some out) print as "-". */
export function describe(r: Row): string {
  const f = (v: number | null, digits: number) => (v === null ? "-" : v.toFixed(digits));
  return `step ${r.step} (epoch ${r.epoch})  loss ${f(r.loss, 4)}  accuracy ${f(r.accuracy, 3)}  lr ${f(r.lr, 5)}`;
}

/** Streams every row of the run in step order; resolves after the final chunk. */
export async function watchRun(url: string, runId: string, onRows: (rows: Row[]) => void): Promise<number> {
  const client = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket });
  const variables: VariablesOf<typeof WatchBatches> = { runId, afterStep: -1 };
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        for await (const result of client.iterate({ query: print(WatchBatches), variables })) {
          if (result.errors?.length) throw new Error(result.errors.map((e) => e.message).join("; "));
          const chunk = (result.data as ResultOf<typeof WatchBatches>).batchMetrics;
          onRows(chunk.rows);
          variables.afterStep = chunk.lastStep;
          if (chunk.final) return variables.afterStep;
        }
        return variables.afterStep;
      } catch (err) {
        if (attempt === 4) throw err;
      }
    }
    return variables.afterStep;
  } finally {
    await client.dispose();
  }
}

const isEntry = process.argv[1]?.endsWith("typed-client/watch.ts");
if (isEntry) {
  const [url = "http://localhost:4000/graphql", runId = "UnVuOjE="] = process.argv.slice(2);
  await watchRun(url, runId, (rows) => {
    for (const r of rows) console.log(describe(r));
  });
}
