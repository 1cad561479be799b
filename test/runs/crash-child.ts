// Child process of resume-on-start.test.ts: trains one long linear run with the real run manager and
// prints each stored step's chunk end ("stored N") until the parent SIGKILLs it mid-run.
import { openDatabase } from "../../src/db/index.ts";
import { createRunManager } from "../../src/runs/manager.ts";
import { startLinearRun } from "../helpers/linear-run.ts";

const [url, epochs] = process.argv.slice(2);
const db = await openDatabase(url);
const m = await createRunManager({ db, maxConcurrent: 1, checkpointEvery: 100 });
const run = await startLinearRun(m, Number(epochs));
process.stdout.write(`run ${run.id}\n`);
for await (const c of m.batches(run.id, -1)) process.stdout.write(`stored ${c.lastStep}\n`);
