// Smoke check for a freshly set-up server (used by .ci/run after `npm install` + `npm start` in a clean
// clone): waits for the server, runs the README's StartLinear mutation and Watch subscription exactly
// as the README shows them, and checks that all 100 batches of example 1 stream in order.
//   tsx scripts/smoke.ts http://127.0.0.1:PORT/graphql
import { readFileSync } from "node:fs";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const url = process.argv[2];
if (!url) {
  console.error("usage: tsx scripts/smoke.ts <graphql url>");
  process.exit(2);
}
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const block = (start: string) => {
  const found = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((b) => b.startsWith(start));
  if (!found) throw new Error(`README has no graphql block starting "${start}"`);
  return found;
};

async function waitForServer(deadline: number): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no server answered at ${url}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

await waitForServer(Date.now() + 120_000);
const res = await fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ query: block("mutation StartLinear") }),
});
const body = (await res.json()) as {
  data?: { startExperiment: { runs?: { id: string }[]; message?: string } };
};
const runId = body.data?.startExperiment.runs?.[0]?.id;
if (!runId) throw new Error(`startExperiment failed: ${JSON.stringify(body)}`);
const client = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket });
const steps: number[] = [];
for await (const r of client.iterate({ query: block("subscription Watch"), variables: { runId } })) {
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  steps.push(
    ...(r.data as { batchMetrics: { rows: { step: number }[] } }).batchMetrics.rows.map((row) => row.step),
  );
}
await client.dispose();
const expected = Array.from({ length: 100 }, (_, i) => i);
if (JSON.stringify(steps) !== JSON.stringify(expected)) {
  throw new Error(`expected steps 0..99, streamed ${steps.length}: ${steps.slice(0, 20).join(",")}…`);
}
console.log(`smoke: run ${runId} streamed all 100 batches of example 1 from a fresh clone`);
