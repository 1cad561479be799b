// The compiler off the event loop: uploads and exports compile in a worker thread, and file datasets
// are sized for admission there, so the server's event loop keeps turning meanwhile, and the errors
// arrive as the same classes a direct call throws.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UnsupportedModelError, ValidationError } from "../../src/errors.ts";
import { decodeModel, encodeModel } from "../../src/graph/onnx.ts";
import { describeOffThread, inspectOffThread } from "../../src/models/compile-thread.ts";
import { inspectModel } from "../../src/models/inspect.ts";
import { builtinModelBytes, describeDataset } from "../../src/train/catalog.ts";
import { encodeIdx } from "../../src/train/data/formats.ts";
import { parseDatasetSpec } from "../../src/train/data/spec.ts";

/** Awaits `work`, counting this thread's event-loop turns meanwhile (0 if it held the thread). */
async function turnsDuring<T>(work: Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let spinning = true;
  const spin = () => {
    turns++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  const value = await work;
  spinning = false;
  return { value, turns };
}

describe("the compile thread", () => {
  it("describes a model exactly as inspectModel does, while this thread's event loop keeps turning", async () => {
    const bytes = builtinModelBytes("cnn");
    await inspectOffThread(builtinModelBytes("linear")); // the thread's start-up, outside the count
    const { value: described, turns } = await turnsDuring(inspectOffThread(bytes));
    // Compiling the CNN here would hold this thread for its whole duration: not one turn.
    expect(turns).toBeGreaterThan(1);
    expect(described).toEqual(inspectModel(bytes));
  });

  it("refuses bad bytes with a ValidationError naming the file field, and a node count over the limit", async () => {
    const bad = await inspectOffThread(Uint8Array.of(1, 2, 3)).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).field).toBe("file");
    expect((bad as Error).message).toMatch(/^the file is not a readable ONNX model/);
    const big = await inspectOffThread(builtinModelBytes("cnn"), 3).catch((e: unknown) => e);
    expect(big).toBeInstanceOf(ValidationError);
    expect((big as Error).message).toMatch(/nodes; the limit is 3 \(MAX_MODEL_NODES\)$/);
  });

  it("keeps an UnsupportedModelError's list of ops", async () => {
    // The linear model with an extra node the compiler has no rule for.
    const m = decodeModel(builtinModelBytes("linear"));
    m.graph.nodes.push({
      op: "Einsum",
      name: "einsum0",
      domain: "",
      inputs: [m.graph.inputs[0].name],
      outputs: ["e"],
      attrs: {},
    });
    const err = await inspectOffThread(encodeModel(m)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedModelError);
    expect((err as UnsupportedModelError).ops).toEqual(["Einsum"]);
  });

  it("sizes a file dataset for admission as describeDataset does, while this thread's event loop keeps turning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gradstream-describe-"));
    try {
      // 20,000 28×28 images (15 MB): reading and decoding them here would hold this thread throughout.
      const n = 20_000;
      const pixels = Uint8Array.from({ length: n * 784 }, (_, i) => (i * 7) & 255);
      writeFileSync(join(dir, "images.idx"), encodeIdx([n, 28, 28], pixels));
      writeFileSync(
        join(dir, "labels.idx"),
        encodeIdx(
          [n],
          Uint8Array.from({ length: n }, (_, i) => i % 7),
        ),
      );
      const spec = parseDatasetSpec(
        `idx:images=${join(dir, "images.idx")},labels=${join(dir, "labels.idx")}`,
      );
      await describeOffThread(parseDatasetSpec("linear"), 0); // the thread's start-up, outside the count
      const { value: described, turns } = await turnsDuring(describeOffThread(spec, 0.1));
      expect(turns).toBeGreaterThan(1);
      expect(described).toEqual(describeDataset(spec, 0.1));
      expect([described.trainSize, described.valSize, described.classes]).toEqual([18_000, 2_000, 7]);
      // A loader's error arrives with its message.
      const gone = parseDatasetSpec(`idx:images=${join(dir, "none.idx")},labels=${join(dir, "labels.idx")}`);
      const err = await describeOffThread(gone, 0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toBe(
        (() => {
          try {
            describeDataset(gone, 0);
            return "no error";
          } catch (e) {
            return (e as Error).message;
          }
        })(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
