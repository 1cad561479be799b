// The compiler off the event loop: uploads and exports compile in a worker thread, so the server's
// event loop keeps turning meanwhile, and the errors arrive as the same classes a direct call throws.
import { describe, expect, it } from "vitest";
import { UnsupportedModelError, ValidationError } from "../../src/errors.ts";
import { decodeModel, encodeModel } from "../../src/graph/onnx.ts";
import { inspectOffThread } from "../../src/models/compile-thread.ts";
import { inspectModel } from "../../src/models/inspect.ts";
import { builtinModelBytes } from "../../src/train/catalog.ts";

describe("the compile thread", () => {
  it("describes a model exactly as inspectModel does, while this thread's event loop keeps turning", async () => {
    const bytes = builtinModelBytes("cnn");
    await inspectOffThread(builtinModelBytes("linear")); // the thread's start-up, outside the count
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const described = await inspectOffThread(bytes);
    spinning = false;
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
});
