// The README is a contract: every GraphQL operation it shows (fenced, inside curl/JS/TS/Python
// examples, or inline) is valid against the schema, the read-only ones run against the real server,
// the named examples run end to end, the curl examples work as written (with the port changed), and
// every environment variable that src/server/config.ts reads is documented in its configuration table.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kind, parse, validate } from "graphql";
import { createClient } from "graphql-ws";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { schema } from "../src/schema/index.ts";
import { gqlData, postGql } from "./helpers/gql.ts";
import { dbId } from "./helpers/ids.ts";
import { type Live, useLiveServer } from "./helpers/live-server.ts";
import { readmeOperations } from "./helpers/readme-operations.ts";

const run = promisify(execFile);
const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const CONFIG_SRC = readFileSync(new URL("../src/server/config.ts", import.meta.url), "utf8");

function blocks(lang: string): string[] {
  const re = new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g");
  return [...README.matchAll(re)].map((m) => m[1]);
}

function named(kind: string, name: string): string {
  const found = blocks("graphql").find((b) => b.trimStart().startsWith(`${kind} ${name}`));
  if (!found) throw new Error(`README has no graphql block "${kind} ${name}"`);
  return found;
}

let app: Live["app"];
/** The sweep the sweep example started, for the read-only operations that take a sweep id. */
let sweepId = "";
let url: string;
useLiveServer({}, (live) => {
  ({ app, url } = live);
});

/** Runs a README shell block as written, pointed at the test server (and with other literal swaps). */
function shell(block: string | undefined, swaps: Record<string, string>) {
  if (!block) throw new Error("README lacks the shell example this test runs");
  let script = block.replaceAll("http://localhost:4000/graphql", url);
  for (const [from, to] of Object.entries(swaps)) script = script.replaceAll(from, to);
  return run("bash", ["-c", script], { maxBuffer: 1 << 24 });
}

/** POSTs a README operation; fails the test with the server's errors when there are any. */
const post = (query: string, variables: Record<string, unknown> = {}) => gqlData(url, query, variables);

describe("README", () => {
  it("documents every environment variable that config.ts reads, with its default", () => {
    const vars = new Set(
      [...CONFIG_SRC.matchAll(/\benv(?:\.|\[\s*")([A-Z][A-Z0-9_]+)|\(env,\s*"([A-Z][A-Z0-9_]+)"/g)].map(
        (m) => m[1] ?? m[2],
      ),
    );
    expect(vars.size).toBeGreaterThan(5);
    const table = README.slice(README.indexOf("## Configuration"), README.indexOf("## PostgreSQL"));
    const missing = [...vars].filter((v) => !table.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });

  it("answers the first query as written", async () => {
    const data = await post(named("query", "Catalogue"));
    const names = (data.experiments as { name: string }[]).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(["linear", "batch-size", "cnn-dropout"]));
    expect(
      (data.executionProviders as { name: string; available: boolean }[]).find((p) => p.name === "CPU")
        ?.available,
    ).toBe(true);
  });

  it("uploads a dataset with the README's curl example and trains on the path it answers", async () => {
    const csvDir = mkdtempSync(join(tmpdir(), "gradstream-readme-csv-"));
    const rows = ["species,a,b,c,d,e,f,g,h,i,j"];
    for (let i = 0; i < 20; i++)
      rows.push([i % 2, ...Array.from({ length: 10 }, (_, j) => (i + j) % 5)].join(","));
    writeFileSync(join(csvDir, "iris.csv"), `${rows.join("\n")}\n`);
    const upload = blocks("sh").find((b) => b.includes("uploadDataset"));
    const { stdout } = await shell(upload, { "0=@iris.csv": `0=@${join(csvDir, "iris.csv")}` });
    rmSync(csvDir, { recursive: true, force: true });
    const stored = JSON.parse(stdout).data.uploadDataset as { path: string; bytes: number };
    expect(stored.path).toMatch(/^uploads\/[0-9a-f]{16}-iris\.csv$/);
    expect(stored.bytes).toBe(`${rows.join("\n")}\n`.length);
    const { models } = await post("{ models { nodes { id name } } }");
    const linear = (models as { nodes: { id: string; name: string }[] }).nodes.find(
      (m) => m.name === "linear",
    );
    const started = await post(
      `mutation($input: StartRunInput!) { startRun(input: $input) { __typename ... on Error { message } } }`,
      {
        input: {
          model: linear?.id,
          datasetSpec: `csv:path=${stored.path},labelColumn=species`,
          batchSize: 5,
          epochs: 1,
        },
      },
    );
    expect(started.startRun).toEqual({ __typename: "Run" });
  });

  it("runs the curl query example as written, against the test server's port", async () => {
    const { stdout } = await shell(
      blocks("sh").find((b) => b.startsWith("curl -s")),
      {},
    );
    expect(JSON.parse(stdout).data.experiments.length).toBeGreaterThanOrEqual(3);
  });

  it("starts experiment 1 and streams all 100 batches through the README's subscription, over graphql-ws and over SSE with curl", async () => {
    const started = await post(named("mutation", "StartLinear"));
    const runs = (started.startExperiment as { runs: { id: string; totalSteps: number }[] }).runs;
    expect(runs).toHaveLength(1);
    expect(runs[0].totalSteps).toBe(100);
    const runId = runs[0].id;

    const client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket });
    const steps: number[] = [];
    for await (const r of client.iterate({ query: named("subscription", "Watch"), variables: { runId } })) {
      expect(r.errors).toBeUndefined();
      const chunk = r.data?.batchMetrics as { rows: { step: number }[] };
      steps.push(...chunk.rows.map((row) => row.step));
    }
    await client.dispose();
    expect(steps).toEqual(Array.from({ length: 100 }, (_, i) => i));

    const sse = blocks("sh").find((b) => b.includes("text/event-stream"));
    const { stdout } = await shell(sse, { '"id":"UnVuOjE="': `"id":"${runId}"` });
    const events = stdout
      .split("\n")
      .filter((l) => l.startsWith("data: {"))
      .map((l) => JSON.parse(l.slice(6)));
    const sseSteps = events.flatMap((e) => e.data.batchMetrics.rows.map((row: { step: number }) => row.step));
    expect(sseSteps).toEqual(steps);
    expect(events.at(-1).data.batchMetrics.final).toBe(true);
  });

  it("runs the sweep example: four runs over batch size and seed, each completing, with a best run and a comparison", async () => {
    const { models } = await post("{ models { nodes { id name } } }");
    const linear = (models as { nodes: { id: string; name: string }[] }).nodes.find(
      (m) => m.name === "linear",
    );
    const started = await post(named("mutation", "BatchSizeSweep"), { model: linear?.id });
    const { id, runs } = started.startSweep as {
      id: string;
      runs: { totalCount: number; nodes: { id: string; hyperparameters: { batchSize: number } }[] };
    };
    expect(runs.totalCount).toBe(4);
    const sweep = { id, runs: runs.nodes };
    sweepId = id;
    expect(sweep.runs.map((r) => r.hyperparameters.batchSize).sort((a, b) => a - b)).toEqual([
      10, 10, 100, 100,
    ]);
    for (const r of sweep.runs) {
      const done = app.runs!.batches(dbId(r.id), -1);
      for await (const chunk of done) if (chunk.final) break;
    }
    const report = (await post(named("query", "SweepReport"), { id: sweep.id })).sweep as {
      completed: number;
      best: { id: string; bestValAccuracy: number } | null;
      compare: { run: { id: string }; points: { step: number; mean: number }[] }[];
    };
    expect(report.completed).toBe(4);
    expect(report.best?.bestValAccuracy).toBeGreaterThan(0.5);
    expect(report.compare.map((c) => c.run.id).sort()).toEqual(sweep.runs.map((r) => r.id).sort());
    for (const c of report.compare) expect(c.points.length).toBeGreaterThan(0);
  });
  it("runs the seed-group examples: 5 seeds per batch size, the batch-10 band wider, then runs by results and system metrics", async () => {
    const { models } = await post("{ models { nodes { id name } } }");
    const linear = (models as { nodes: { id: string; name: string }[] }).nodes.find(
      (m) => m.name === "linear",
    );
    const started = await post(named("mutation", "SeedSweep"), { model: linear?.id });
    const started_ = started.startSweep as { id: string; runs: { nodes: { id: string }[] } };
    const sweep = { id: started_.id, runs: started_.runs.nodes };
    expect(sweep.runs).toHaveLength(10);
    for (const r of sweep.runs) {
      for await (const chunk of app.runs!.batches(dbId(r.id), -1)) if (chunk.final) break;
    }
    type Group = { key: string; setting: { batchSize: number }; points: { std: number }[] };
    const bands = (await post(named("query", "SeedBands"), { id: sweep.id })).sweep as {
      compare: { group: Group }[];
    };
    const groups = new Map(bands.compare.map((c) => [c.group.setting.batchSize, c.group]));
    const meanStd = (g: Group | undefined) =>
      (g?.points ?? []).reduce((a, p) => a + p.std, 0) / (g?.points.length ?? 1);
    expect(meanStd(groups.get(10))).toBeGreaterThan(meanStd(groups.get(100)));
    const best = (await post(named("query", "BestRuns"))).runs as {
      edges: { node: { durationMs: number } }[];
    };
    expect(best.edges.length).toBeGreaterThan(0);
    expect(best.edges[0].node.durationMs).toBeGreaterThan(0);
    const sys = (await post(named("query", "SystemPanel"), { id: sweep.runs[0].id })).run as {
      systemMetrics: { rssBytes: number }[];
    };
    expect(sys.systemMetrics.length).toBeGreaterThan(0);
    expect(sys.systemMetrics[0].rssBytes).toBeGreaterThan(0);
  });

  it("shows only operations that are valid against the schema, fenced, embedded in examples or inline", () => {
    const shown = readmeOperations(README);
    expect(shown.length).toBeGreaterThanOrEqual(18);
    const invalid = shown.flatMap(({ where, source }) => {
      try {
        return validate(schema, parse(source)).map((e) => `${where}: ${e.message}`);
      } catch (err) {
        return [`${where}: ${err instanceof Error ? err.message : String(err)}`];
      }
    });
    expect(invalid).toEqual([]);
  });

  it("runs every read-only operation it shows against the live server without an error", async () => {
    const runs = await post("{ runs(first: 1) { nodes { id } } models { nodes { id name } } }");
    const runId = (runs.runs as { nodes: { id: string }[] }).nodes[0]?.id;
    const linear = (runs.models as { nodes: { id: string; name: string }[] }).nodes.find(
      (m) => m.name === "linear",
    );
    expect(runId).toBeDefined();
    expect(sweepId).not.toBe("");
    const reads = readmeOperations(README).filter(({ source }) =>
      parse(source).definitions.every((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === "query"),
    );
    expect(reads.length).toBeGreaterThanOrEqual(4);
    for (const { where, source } of reads) {
      const sweep = /\bsweep\(/.test(source);
      const body = await postGql(url, source, { id: sweep ? sweepId : runId, runId, model: linear?.id });
      expect(body.body.errors, where).toBeUndefined();
      expect(body.body.data, where).toBeTruthy();
    }
  });
});
