// The typed-client example (examples/typed-client): its generated schema types are current with
// schema.graphql, gql.tada finds its documents valid, and it streams a real run's batches. `npm test`
// also type-checks it (tsconfig.json includes examples/), so a field the schema lacks fails `tsc`.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { type Row, watchRun } from "../../examples/typed-client/watch.ts";
import { gqlData } from "../helpers/gql.ts";
import { type Live, useLiveServer } from "../helpers/live-server.ts";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
const TSCONFIG = join(ROOT, "examples/typed-client/tsconfig.json");
const TADA = join(ROOT, "node_modules/.bin/gql.tada");

let url: Live["url"];
useLiveServer({}, (live) => {
  url = live.url;
});

describe("the typed-client example", () => {
  it("commits graphql-env.d.ts exactly as gql.tada generates it from schema.graphql, offline", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gradstream-tada-"));
    try {
      const out = join(dir, "graphql-env.d.ts");
      await run(TADA, ["generate-output", "-c", TSCONFIG, "-o", out], { cwd: ROOT });
      expect(readFileSync(out, "utf8")).toBe(
        readFileSync(join(ROOT, "examples/typed-client/graphql-env.d.ts"), "utf8"),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // gql.tada loads the TypeScript compiler: tens of seconds on a loaded 2-core machine.
  }, 180_000);

  it("passes gql.tada's check of its documents against the schema", async () => {
    const { stdout, stderr } = await run(TADA, ["check", "-c", TSCONFIG], { cwd: ROOT });
    expect(`${stdout}${stderr}`).toContain("No problems found");
  }, 180_000);

  it("streams every batch of reference experiment 1 as typed rows, in step order", async () => {
    const started = await gqlData<{ startExperiment: { runs: { id: string }[] } }>(
      url,
      'mutation { startExperiment(name: "linear") { ... on ExperimentStart { runs { id } } } }',
    );
    const rows: Row[] = [];
    const last = await watchRun(url, started.startExperiment.runs[0].id, (chunk) => rows.push(...chunk));
    expect(last).toBe(99);
    expect(rows.map((r) => r.step)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(rows.every((r) => typeof r.loss === "number" && r.lr === 0.01)).toBe(true);
  });
});
