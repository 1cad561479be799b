// `gradstream runs` and `gradstream watch` as a shell user runs them: real child processes of
// bin/gradstream.js talking to the real server on a free port.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { type Live, useLiveServer } from "../helpers/live-server.ts";

const BIN = new URL("../../bin/gradstream.js", import.meta.url).pathname;
const exec = promisify(execFile);

/** Runs the CLI and returns its exit code with both streams, never throwing on a non-zero exit. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let app: Live["app"];
let url: string;
useLiveServer({}, (live) => {
  ({ app, url } = live);
});

describe("gradstream runs and watch against a running server", () => {
  it("watch prints all 100 batches of example 1 in the reference style and exits 0 when the run completes", async () => {
    const [run] = await app.runs!.startExperiment("linear");
    const { code, stdout, stderr } = await cli("watch", String(run.id), "--url", url);
    const lines = stdout.trim().split("\n");
    expect(code).toBe(0);
    expect(lines).toHaveLength(100);
    for (const line of lines)
      expect(line).toMatch(/^Epoch: ([1-9]|10), Batch Loss: \d+\.\d{4}, Batch Accuracy: \d\.\d{4}$/);
    expect(lines[0]).toMatch(/^Epoch: 1,/);
    expect(lines[99]).toMatch(/^Epoch: 10,/);
    expect(stderr).toContain(`run ${run.id} COMPLETED`);
  });

  it("watch --json --after resumes after a step with one JSON object per batch", async () => {
    const [run] = await app.runs!.startExperiment("linear");
    const { code, stdout } = await cli("watch", String(run.id), "--url", url, "--json", "--after", "89");
    const rows = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { step: number });
    expect(code).toBe(0);
    expect(rows.map((r) => r.step)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
  });

  it("runs lists the server's runs newest first, as a table or as JSON lines", async () => {
    const table = await cli("runs", "--url", url);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/ID\s+STATUS\s+STEPS\s+BEST VAL\s+NAME/);
    const json = await cli("runs", "--url", url, "--json");
    const runs = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; databaseId: number; status: string });
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0].databaseId).toBeGreaterThan(runs[1].databaseId);
  });

  it("says what is wrong with exit code 2 on bad usage, and exit code 1 when the server is unreachable or the run unknown", async () => {
    const usage = await cli("watch");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("expected exactly one run id");
    const badUrl = await cli("runs", "--url", "localhost:4000");
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain("--url must be an http(s) URL");
    const down = await cli("runs", "--url", "http://127.0.0.1:1/graphql");
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach gradstream at http:\/\/127\.0\.0\.1:1\/graphql/);
    const unknown = await cli("watch", "999999", "--url", url);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/999999/);
  });

  it("prints usage listing every command for gradstream --help", async () => {
    const help = await cli("--help");
    expect(help.code).toBe(0);
    for (const c of ["serve", "worker", "train", "export", "parity", "runs", "watch"]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${c}\\s`, "m"));
    }
  });
});
