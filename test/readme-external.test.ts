// The README's "Metrics from any trainer" section as a contract: its GraphQL operations, its Python
// snippet (run with the machine's python3, no torch), its `gradstream log` and export commands, all
// against the real server.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbId } from "./helpers/ids.ts";
import { type Live, startLive } from "./helpers/live-server.ts";

const exec = promisify(execFile);
const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const SECTION = README.slice(
  README.indexOf("## Metrics from any trainer"),
  README.indexOf("## Putting the charts"),
);
const BIN = new URL("../bin/gradstream.js", import.meta.url).pathname;
const TRAIN = new URL("./fixtures/external/train.py", import.meta.url).pathname;

function blocks(lang: string): string[] {
  return [...SECTION.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g"))].map((m) => m[1]);
}

function named(kind: string, name: string): string {
  const found = blocks("graphql").find((b) => b.trimStart().startsWith(`${kind} ${name}`));
  if (!found) throw new Error(`README has no graphql block "${kind} ${name}"`);
  return found;
}

let live: Live;
const dir = mkdtempSync(join(tmpdir(), "gradstream-readme-ext-"));
beforeAll(async () => {
  live = await startLive();
});
afterAll(async () => {
  await live?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const body = await live.gql<T>(query, variables);
  expect(body.errors).toBeUndefined();
  return body.data as T;
}

const base = () => live.url.replace(/\/graphql$/, "");

describe("README: metrics from any trainer", () => {
  it("creates an EXTERNAL run, logs two steps with custom metrics, reads them back downsampled, compares and finishes it", async () => {
    const created = await post<{ createRun: { id: string; kind: string; status: string } }>(
      named("mutation", "CreateExternal"),
    );
    expect(created.createRun).toMatchObject({ kind: "EXTERNAL", status: "RUNNING" });
    const id = created.createRun.id;
    const logged = await post<{ logMetrics: unknown }>(named("mutation", "LogSteps"), { runId: id });
    expect(logged.logMetrics).toEqual({ stored: 2, ignored: 0, lastStep: 1 });
    const again = await post<{ logMetrics: unknown }>(named("mutation", "LogSteps"), { runId: id });
    expect(again.logMetrics).toEqual({ stored: 0, ignored: 2, lastStep: 1 });
    const h = await post<{
      run: {
        kind: string;
        customMetrics: string[];
        history: { buckets: { loss: { mean: number }; custom: { name: string; mean: number }[] }[] };
        batchMetrics: { edges: { node: { step: number; accuracy: number | null; custom: unknown[] } }[] };
      };
      compareRuns: { points: { step: number; mean: number }[] }[];
    }>(named("query", "ExternalHistory"), { id });
    expect(h.run.customMetrics).toEqual(["grad_norm_fc1", "perplexity"]);
    expect(h.run.history.buckets).toEqual([
      {
        firstStep: 0,
        lastStep: 0,
        loss: { mean: 6931 / 1e4 },
        custom: [{ name: "perplexity", min: 2, max: 2, mean: 2 }],
      },
      {
        firstStep: 1,
        lastStep: 1,
        loss: { mean: 0.6412 },
        custom: [{ name: "perplexity", min: 1.9, max: 1.9, mean: 1.9 }],
      },
    ]);
    expect(h.run.batchMetrics.edges.map((e) => e.node)).toEqual([
      {
        step: 0,
        loss: 6931 / 1e4,
        accuracy: 0.5,
        custom: [
          { name: "grad_norm_fc1", value: 0.41 },
          { name: "perplexity", value: 2 },
        ],
      },
      { step: 1, loss: 0.6412, accuracy: null, custom: [{ name: "perplexity", value: 1.9 }] },
    ]);
    expect(h.compareRuns[0].points).toEqual([
      { step: 0, mean: 2 },
      { step: 1, mean: 1.9 },
    ]);
    const done = await post<{ finishRun: unknown }>(named("mutation", "FinishExternal"), { runId: id });
    expect(done.finishRun).toEqual({ id, status: "COMPLETED" });
  });

  it("runs the Python snippet as written with python3: 100 steps with loss, accuracy and perplexity, COMPLETED", async () => {
    const [snippet] = blocks("python");
    const file = join(dir, "snippet.py");
    writeFileSync(file, snippet.replace("http://localhost:4000/graphql", live.url));
    const { stdout } = await exec("python3", [file]);
    const id = /logged run (\S+)/.exec(stdout)?.[1];
    expect(id).toBeDefined();
    const { run } = await post<{
      run: {
        status: string;
        stepsCompleted: number;
        customMetrics: string[];
        history: { buckets: { count: number }[] };
      };
    }>(
      `query($id: ID!) { run(id: $id) { ... on Run { status stepsCompleted customMetrics history(custom: ["perplexity"], maxPoints: 10) { buckets { count } } } } }`,
      { id },
    );
    expect(run).toEqual({
      status: "COMPLETED",
      stepsCompleted: 100,
      customMetrics: ["perplexity"],
      history: { buckets: Array.from({ length: 10 }, () => ({ count: 10 })) },
    });
  });

  it("runs the `gradstream log` pipe example and exports the run as CSV with the README's curl", async () => {
    const pipe = blocks("sh").find((b) => b.includes("| npx gradstream log"));
    if (!pipe) throw new Error("README lacks the gradstream log pipe example");
    const script = pipe
      .split("\n")[0]
      .replace("train.py", `${TRAIN} 1`)
      .replace("npx gradstream log", `node ${BIN} log --url ${live.url}`);
    const { stderr } = await exec("bash", ["-c", script]);
    const id = /run (\d+) →/.exec(stderr)?.[1];
    expect(stderr).toContain(`${base()}/#/runs/${id}`);
    const curl = blocks("sh").find((b) => b.includes("metrics.csv"));
    if (!curl) throw new Error("README lacks the export example");
    const { stdout } = await exec("bash", [
      "-c",
      curl.replace("http://localhost:4000", base()).replace("/runs/1/", `/runs/${id}/`),
    ]);
    expect(stdout.split("\n").slice(0, 3)).toEqual([
      "step,epoch,batch,samples,loss,accuracy,lr,gradNorm,confidence,trueClassProb,timeMs",
      "0,1,0,0,0.6931,0,,,,,0",
      "1,1,1,0,0.7872,0.7,,,,,0",
    ]);
  });

  it("posts the NDJSON curl example as written: two rows stored, then ignored when sent again", async () => {
    const created = await post<{ createRun: { id: string } }>(named("mutation", "CreateExternal"));
    const id = created.createRun.id;
    const curl = blocks("sh").find((b) => b.includes("metrics.ndjson"));
    if (!curl) throw new Error("README lacks the NDJSON ingest example");
    // The bulk routes take the run's number (databaseId).
    const script = curl.replace("http://localhost:4000", base()).replace("/runs/1/", `/runs/${dbId(id)}/`);
    expect(JSON.parse((await exec("bash", ["-c", script])).stdout)).toEqual({
      stored: 2,
      ignored: 0,
      lastStep: 3,
    });
    expect(JSON.parse((await exec("bash", ["-c", script])).stdout)).toEqual({
      stored: 0,
      ignored: 2,
      lastStep: 3,
    });
    const page = await live.app.db?.batchMetricsPage(dbId(id), -1, 10);
    expect(page?.rows.map((r) => [r.step, r.loss, r.custom ?? null])).toEqual([
      [2, 0.61, { perplexity: 1.84 }],
      [3, 0.58, null],
    ]);
  });
});
