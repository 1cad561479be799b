// Child process of crash.test.ts: trains nothing, but drives the real write path like the runner does.
// For each chunk: await writeBatchChunk (durable), then "publish" by printing its steps; a checkpoint
// every 10 chunks. Runs until killed. (The lead will switch this to the real runner when it exists.)
import { openDatabase } from "../../src/db/index.ts";
import { makeRows } from "../helpers/fixtures.ts";

const [url, runIdText, startText] = process.argv.slice(2);
const runId = Number(runIdText);
const chunk = 50;
const db = await openDatabase(url);
for (let step = Number(startText ?? 0), n = 0; ; step += chunk, n++) {
  await db.writeBatchChunk(runId, makeRows(step, chunk, step + 1));
  // Published only after the commit resolved: this is the promise the crash test checks.
  process.stdout.write(`${Array.from({ length: chunk }, (_, i) => `published ${step + i}`).join("\n")}\n`);
  if (n % 10 === 9)
    await db.saveCheckpoint(runId, { step: step + chunk - 1, epoch: 0, state: new Uint8Array([n & 255]) });
}
