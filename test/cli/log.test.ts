// `gradstream log` as a user runs it: bin/gradstream.js as a child process, stand-in training scripts
// (Python without torch, and Node) printing the seed article's three formats, the real server, and a
// graphql-ws subscriber watching the rows arrive.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Chunk, type Live, startLive, wsClient } from "../helpers/live-server.ts";
import { freePort } from "../helpers/postgres.ts";

const BIN = new URL("../../bin/gradstream.js", import.meta.url).pathname;
const FIXTURES = new URL("../fixtures/external/", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "gradstream-log-"));

interface LogProcess {
  child: ChildProcess;
  runId: Promise<string>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startLog(command: string[] | string, env: Record<string, string> = {}): LogProcess {
  const child =
    typeof command === "string"
      ? spawn(command, { shell: true, env: { ...process.env, ...env } })
      : spawn(process.execPath, [BIN, "log", ...command], { env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  let found: (id: string) => void = () => {};
  const runId = new Promise<string>((resolve) => {
    found = resolve;
  });
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d;
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d;
    const m = /gradstream log: run (\d+) →/.exec(stderr);
    if (m) found(m[1]);
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, runId, done };
}

function output(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args);
    let out = "";
    p.stdout.on("data", (d: Buffer) => {
      out += d;
    });
    p.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

const ROWS = `subscription($runId: ID!) {
  batchMetrics(runId: $runId, afterStep: -1) { runId lastStep final rows { step epoch loss accuracy } } }`;

/** Subscribes; opens the gate once the first rows arrived (the script is then paused halfway). */
async function watchWithGate(wsUrl: string, runId: string, gate: string): Promise<Chunk[]> {
  const client = wsClient(wsUrl);
  const chunks: Chunk[] = [];
  try {
    for await (const r of client.iterate<{ batchMetrics: Chunk }>({ query: ROWS, variables: { runId } })) {
      if (r.errors) throw new Error(r.errors.map((e) => e.message).join("; "));
      if (!r.data) continue;
      chunks.push(r.data.batchMetrics);
      if (!existsSync(gate)) writeFileSync(gate, "go");
    }
  } finally {
    await client.dispose();
  }
  return chunks;
}

/** The printed values, line by line, of the lines that carry a loss. */
function printed(stdout: string): { epoch: number | null; loss: number; accuracy: number | null }[] {
  return stdout
    .split("\n")
    .filter((l) => l.includes("Batch Loss"))
    .map((l) => ({
      epoch: /Epoch: (\d+)/.exec(l) ? Number(/Epoch: (\d+)/.exec(l)?.[1]) : null,
      loss: Number(/Batch Loss: ([\d.]+)/.exec(l)?.[1]),
      accuracy: /Batch Accuracy: ([\d.]+)/.exec(l) ? Number(/Batch Accuracy: ([\d.]+)/.exec(l)?.[1]) : null,
    }));
}

let live: Live;
beforeAll(async () => {
  live = await startLive();
});
afterAll(async () => {
  await live?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("gradstream log with the seed article's scripts, unchanged", () => {
  it("streams example 1 (Python) live: the output is copied through, every printed value arrives once, in order", async () => {
    const gate = join(dir, "gate-1");
    const expected = await output("python3", [join(FIXTURES, "train.py"), "1"]);
    const log = startLog(
      ["--url", live.url, "--name", "ex1", "--", "python3", join(FIXTURES, "train.py"), "1"],
      {
        GRADSTREAM_TEST_GATE: gate,
      },
    );
    const runId = await log.runId;
    const chunks = await watchWithGate(live.wsUrl, runId, gate);
    const { code, stdout } = await log.done;
    expect(code).toBe(0);
    expect(stdout).toBe(expected);
    // The script waited at batch 50 until rows had arrived: the first chunk came while it was running.
    expect(chunks[0].rows.every((r) => r.step < 50)).toBe(true);
    const rows = chunks.flatMap((c) => c.rows);
    expect(rows.map((r) => r.step)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(rows.map((r) => ({ epoch: r.epoch, loss: r.loss, accuracy: r.accuracy }))).toEqual(
      printed(stdout),
    );
    expect(chunks.at(-1)?.final).toBe(true);
    const { data } = await live.gql<{
      run: { status: string; kind: string; name: string; stepsCompleted: number };
    }>(`query($id: ID!) { run(id: $id) { ... on Run { status kind name stepsCompleted } } }`, { id: runId });
    expect(data?.run).toEqual({ status: "COMPLETED", kind: "EXTERNAL", name: "ex1", stepsCompleted: 100 });
  });

  it("streams example 2 (Node) piped into log: header lines pass through, 110 loss-only rows arrive", async () => {
    const gate = join(dir, "gate-2");
    const expected = await output(process.execPath, [join(FIXTURES, "train.mjs"), "2"]);
    const log = startLog(
      `"${process.execPath}" "${join(FIXTURES, "train.mjs")}" 2 | "${process.execPath}" "${BIN}" log --url ${live.url} --name ex2`,
      { GRADSTREAM_TEST_GATE: gate },
    );
    const runId = await log.runId;
    const chunks = await watchWithGate(live.wsUrl, runId, gate);
    const { code, stdout } = await log.done;
    expect(code).toBe(0);
    expect(stdout).toBe(expected);
    expect(stdout.split("\n").filter((l) => l.startsWith("Batch Size"))).toEqual([
      "Batch Size 10 Training:",
      "Batch Size 100 Training:",
    ]);
    const rows = chunks.flatMap((c) => c.rows);
    expect(rows.map((r) => r.step)).toEqual(Array.from({ length: 110 }, (_, i) => i));
    expect(rows.map((r) => ({ epoch: null, loss: r.loss, accuracy: r.accuracy }))).toEqual(printed(stdout));
  });

  it("finishes a script that fails (example 3, exit code 3) FAILED with the exit code and its last stderr lines", async () => {
    const log = startLog(
      ["--url", live.url, "--name", "ex3", "--", "python3", join(FIXTURES, "train.py"), "3"],
      {
        GRADSTREAM_TEST_FAIL: "1",
      },
    );
    const runId = await log.runId;
    const { code, stderr } = await log.done;
    expect(code).toBe(3);
    expect(stderr).toContain("RuntimeError: CUDA out of memory");
    const { data } = await live.gql<{
      run: { status: string; errorMessage: string; stepsCompleted: number };
    }>(`query($id: ID!) { run(id: $id) { ... on Run { status errorMessage stepsCompleted } } }`, {
      id: runId,
    });
    expect(data?.run).toEqual({
      status: "FAILED",
      errorMessage:
        "exit code 3; last stderr lines:\nTraceback (most recent call last):\nRuntimeError: CUDA out of memory",
      stepsCompleted: 64,
    });
  });
});

function startServer(port: number, db: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, "serve"], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: `file:${db}`,
      NODE_ENV: "test",
    },
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d;
      if (out.includes("gradstream serving")) resolve(child);
    });
    child.on("close", (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

describe("gradstream log across a server crash", () => {
  it("stores 100,000 printed rows exactly once, with no gap, when the server is killed and restarted mid-stream", async () => {
    const port = await freePort();
    const db = join(dir, "crash.db");
    const url = `http://127.0.0.1:${port}/graphql`;
    let server = await startServer(port, db);
    const log = startLog([
      "--url",
      url,
      "--name",
      "big",
      "--",
      process.execPath,
      join(FIXTURES, "many.mjs"),
      "100000",
    ]);
    const runId = await log.runId;
    const progress = async (): Promise<number> => {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: `{ run(id: ${runId}) { ... on Run { stepsCompleted } } }` }),
      });
      return ((await res.json()) as { data: { run: { stepsCompleted: number } } }).data.run.stepsCompleted;
    };
    let stored = await progress();
    while (stored < 20_000) {
      await new Promise((r) => setTimeout(r, 50));
      stored = await progress();
    }
    expect(stored).toBeLessThan(100_000);
    server.kill("SIGKILL");
    await new Promise((r) => server.once("close", r));
    await new Promise((r) => setTimeout(r, 1_000));
    server = await startServer(port, db);
    try {
      const { code, stderr } = await log.done;
      expect(code).toBe(0);
      expect(stderr).toContain("keeping rows and retrying");
      const res = await fetch(`http://127.0.0.1:${port}/runs/${runId}/metrics.ndjson`);
      const rows = (await res.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { step: number; loss: number; custom: { tokens: number } });
      expect(rows).toHaveLength(100_000);
      const bad = rows.filter((r, i) => r.step !== i || r.loss !== i / 100_000 || r.custom.tokens !== i * 32);
      expect(bad).toEqual([]);
      const status = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: `{ run(id: ${runId}) { ... on Run { status stepsCompleted lastStep } } }`,
        }),
      });
      expect(((await status.json()) as { data: unknown }).data).toEqual({
        run: { status: "COMPLETED", stepsCompleted: 100_000, lastStep: 99_999 },
      });
    } finally {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("close", r));
    }
    // Two server starts and 100,000 rows on a loaded 2-core machine: minutes, not the default minute.
  }, 300_000);
});
