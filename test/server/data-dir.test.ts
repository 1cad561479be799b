// Dataset files over the API stay inside DATA_DIR: absolute paths elsewhere, "..", symlinks that
// escape, /proc and missing files are all refused with one message that reveals neither existence nor
// content, nothing is written, and a file inside DATA_DIR (copied there, or sent with uploadDataset)
// trains. Several roots are searched in order.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveDataFile } from "../../src/train/data/files.ts";
import { type Live, startLive } from "../helpers/live-server.ts";
import { rowCounts } from "./hostile-models.ts";

const REFUSED =
  "not a file inside the data directory (DATA_DIR); copy the file there or upload it with the uploadDataset mutation, and name it by its path relative to DATA_DIR";

/** 20 rows of 10 features and a 0/1 label in the first column: fits the built-in linear model. */
function csv(): string {
  const rows = [];
  for (let i = 0; i < 20; i++)
    rows.push([i % 2, ...Array.from({ length: 10 }, (_, j) => (i * j) % 7)].join(","));
  return `${rows.join("\n")}\n`;
}

let live: Live;
let base: string;
let linearId: string;
let before: Record<string, number>;

const START = `mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id } ... on ValidationError { field message } } }`;
const start = (datasetSpec: unknown) =>
  live.gql<{ startRun: { __typename: string; id?: string; field?: string; message?: string } }>(START, {
    input: { model: linearId, datasetSpec, batchSize: 5, epochs: 1 },
  });

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "gradstream-datadir-"));
  const first = join(base, "first");
  const second = join(base, "second");
  mkdirSync(first);
  mkdirSync(join(second, "sub"), { recursive: true });
  writeFileSync(join(first, "train.csv"), csv());
  writeFileSync(join(second, "sub", "other.csv"), csv());
  // Outside both roots, readable, with content that would fail to parse if it were ever read.
  writeFileSync(join(base, "secret.csv"), "password,hunter2\n");
  symlinkSync(join(base, "secret.csv"), join(first, "escape.csv"));
  symlinkSync(base, join(first, "up"));
  live = await startLive({ DATA_DIR: `${first}:${second}`, RUN_RATE_LIMIT: "1000" });
  linearId = String((await live.app.db?.findModelByName("linear"))?.id);
  before = await rowCounts(live);
});
afterAll(async () => {
  await live.close();
  rmSync(base, { recursive: true, force: true });
});

describe("dataset files over the API", () => {
  it("refuses absolute paths, traversal, symlink escapes, /proc and missing files with one message", async () => {
    const probes = [
      "csv:path=/etc/passwd,labelColumn=0,delimiter=:",
      { kind: "csv", path: join(base, "secret.csv") },
      { kind: "csv", path: "../secret.csv" },
      { kind: "csv", path: "sub/../../secret.csv" },
      { kind: "csv", path: "escape.csv" },
      { kind: "csv", path: "up/secret.csv" },
      { kind: "csv", path: "/proc/self/environ" },
      { kind: "csv", path: "missing.csv" },
      { kind: "csv", path: join(base, "nothing-here.csv") },
      { kind: "csv", path: "sub" },
    ];
    const answers = [];
    for (const p of probes) answers.push((await start(p)).data?.startRun);
    for (const a of answers) {
      expect(a).toEqual({
        __typename: "ValidationError",
        field: "datasetSpec",
        message: `dataset.path: ${REFUSED}`,
      });
    }
    const idx = await start({ kind: "idx", images: "/etc/hostname", labels: "train.csv" });
    expect(idx.data?.startRun.message).toBe(`dataset.images: ${REFUSED}`);
    const cifar = await start({ kind: "cifar10", files: ["train.csv", "/etc/hostname"] });
    expect(cifar.data?.startRun.message).toBe(`dataset.files[1]: ${REFUSED}`);
  });

  it("refuses the same probes in startSweep", async () => {
    const r = await live.gql<{ startSweep: { __typename: string; message?: string } }>(
      `mutation($input: StartSweepInput!) { startSweep(input: $input) {
        __typename ... on ValidationError { message } } }`,
      {
        input: {
          model: linearId,
          datasetSpec: "csv:path=../secret.csv",
          strategy: "GRID",
          space: { lr: [0.1] },
          base: { batchSize: 5, epochs: 1 },
        },
      },
    );
    expect(r.data?.startSweep).toEqual({
      __typename: "ValidationError",
      message: `dataset.path: ${REFUSED}`,
    });
  });

  it("wrote nothing while refusing", async () => {
    expect(await rowCounts(live)).toEqual(before);
  });

  it("trains on a file inside DATA_DIR, found in the first or the second root", async () => {
    const a = await start("csv:path=train.csv,labelColumn=0");
    const b = await start({ kind: "csv", path: "sub/other.csv", labelColumn: 0 });
    expect([a.data?.startRun.__typename, b.data?.startRun.__typename]).toEqual(["Run", "Run"]);
  });

  it("stores an uploaded file under DATA_DIR and trains on the path uploadDataset returns", async () => {
    const form = new FormData();
    form.set(
      "operations",
      JSON.stringify({
        query: `mutation($file: Upload!) { uploadDataset(file: $file, name: "mine.csv") {
          __typename ... on DatasetUpload { path bytes } ... on ValidationError { message } } }`,
        variables: { file: null },
      }),
    );
    form.set("map", JSON.stringify({ 0: ["variables.file"] }));
    form.set("0", new File([csv()], "whatever.csv"));
    const res = await fetch(live.url, {
      method: "POST",
      headers: { "x-graphql-yoga-csrf": "1" },
      body: form,
    });
    const upload = ((await res.json()) as { data: { uploadDataset: { path: string; bytes: number } } }).data
      .uploadDataset;
    expect(upload).toEqual({
      __typename: "DatasetUpload",
      path: expect.stringMatching(/^uploads\/[0-9a-f]{16}-mine\.csv$/),
      bytes: csv().length,
    });
    const run = await start(`csv:path=${upload.path},labelColumn=0`);
    expect(run.data?.startRun.__typename).toBe("Run");
  });

  it("refuses an upload name that could leave the uploads folder", async () => {
    const form = new FormData();
    form.set(
      "operations",
      JSON.stringify({
        query: `mutation($file: Upload!) { uploadDataset(file: $file, name: "../x.csv") {
          __typename ... on ValidationError { field message } } }`,
        variables: { file: null },
      }),
    );
    form.set("map", JSON.stringify({ 0: ["variables.file"] }));
    form.set("0", new File(["1,2\n"], "x.csv"));
    const res = await fetch(live.url, {
      method: "POST",
      headers: { "x-graphql-yoga-csrf": "1" },
      body: form,
    });
    expect(((await res.json()) as { data: unknown }).data).toEqual({
      uploadDataset: {
        __typename: "ValidationError",
        field: "name",
        message:
          'name must be 1–100 characters of letters, digits, "_", "." or "-", starting with a letter or digit; got "../x.csv"',
      },
    });
  });
});

describe("resolveDataFile", () => {
  it("refuses an absolute path outside every root even when the roots do not exist", () => {
    expect(() => resolveDataFile("/etc/passwd", ["/nonexistent/root"])).toThrow(`dataset.path: ${REFUSED}`);
    expect(() => resolveDataFile("a/../../b", ["/nonexistent/root"], "images")).toThrow(
      `dataset.images: ${REFUSED}`,
    );
  });
});
