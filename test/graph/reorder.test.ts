// The compiler's forward rewrites: Relu → MaxPool runs as MaxPool → Relu when nothing else reads the
// ReLU, and an opset 13–17 graph is restated at opset 18.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../src/graph/compile.ts";
import { type Graph, int, ints, type Model, type Node } from "../../src/graph/ir.ts";
import { decodeModel, encodeModel } from "../../src/graph/onnx.ts";
import { liftToOpset18, poolBeforeRelu } from "../../src/graph/reorder.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";

const node = (op: string, inputs: string[], outputs: string[], name = op): Node => ({
  op,
  name,
  domain: "",
  inputs,
  outputs,
  attrs: op === "MaxPool" ? { kernel_shape: ints([2, 2]), strides: ints([2, 2]) } : {},
});

const graph = (nodes: Node[], output = "y"): Graph => ({
  name: "g",
  nodes,
  inputs: [{ name: "x", dtype: "float32", shape: ["N", 1, 4, 4] }],
  outputs: [{ name: output, dtype: "float32", shape: ["N", 1, 2, 2] }],
  initializers: [],
});

describe("MaxPool moves before the ReLU that feeds it", () => {
  it("swaps a ReLU whose only reader is a MaxPool, keeping the pool's output name and both node names", () => {
    const nodes = [node("Relu", ["x"], ["r"], "relu"), node("MaxPool", ["r"], ["y"], "pool")];
    expect(poolBeforeRelu(nodes, graph(nodes)).map((n) => [n.name, n.op, n.inputs, n.outputs])).toEqual([
      ["pool", "MaxPool", ["x"], ["y_before_relu"]],
      ["relu", "Relu", ["y_before_relu"], ["y"]],
    ]);
  });

  it("leaves the order alone when the ReLU output has another reader, is a graph output, or the pool returns indices", () => {
    const twoReaders = [
      node("Relu", ["x"], ["r"]),
      node("MaxPool", ["r"], ["p"]),
      node("Add", ["p", "r"], ["y"]),
    ];
    expect(poolBeforeRelu(twoReaders, graph(twoReaders))).toEqual(twoReaders);
    const reluOut = [node("Relu", ["x"], ["r"]), node("MaxPool", ["r"], ["y"])];
    expect(poolBeforeRelu(reluOut, graph(reluOut, "r"))).toEqual(reluOut);
    const indices = [node("Relu", ["x"], ["r"]), node("MaxPool", ["r"], ["y", "i"])];
    expect(poolBeforeRelu(indices, graph(indices))).toEqual(indices);
  });

  it("picks a fresh name when the natural one is taken", () => {
    const nodes = [
      node("Relu", ["x"], ["r"], "relu"),
      node("MaxPool", ["r"], ["y"], "pool"),
      node("Identity", ["x"], ["y_before_relu"], "id"),
    ];
    expect(poolBeforeRelu(nodes, graph(nodes))[0].outputs).toEqual(["y_before_relu_1"]);
  });
});

describe("an opset 13–17 graph is restated at opset 18", () => {
  it("moves a reduction's axes attribute to an int64 constant input and leaves every other node alone", () => {
    const reduce = (op: string, out: string, attrs: Node["attrs"]): Node => ({
      ...node(op, ["x"], [out], out),
      attrs,
    });
    const nodes = [
      reduce("ReduceMean", "m", { axes: ints([1, -1]), keepdims: int(0) }),
      reduce("ReduceMax", "y", { keepdims: int(1) }),
      reduce("ReduceSum", "s", { keepdims: int(0) }),
      node("Identity", ["x"], ["m_axes"], "taken"),
    ];
    const { nodes: lifted, initializers } = liftToOpset18(nodes, graph(nodes));
    expect(lifted[0]).toEqual({ ...nodes[0], inputs: ["x", "m_axes_1"], attrs: { keepdims: int(0) } });
    expect(lifted.slice(1)).toEqual(nodes.slice(1));
    expect(initializers).toEqual([
      { name: "m_axes_1", dtype: "int64", dims: [2], data: BigInt64Array.of(1n, -1n) },
    ]);
  });

  it("names the parts of a Split into equal parts (opset 18 requires num_outputs or sizes)", () => {
    const equal: Node = { ...node("Split", ["x"], ["a", "b", "c"], "equal"), attrs: { axis: int(1) } };
    const sized: Node = { ...node("Split", ["x", "sizes"], ["d", "e"], "sized"), attrs: { axis: int(1) } };
    const { nodes: lifted, initializers } = liftToOpset18([equal, sized], graph([equal, sized]));
    expect(lifted).toEqual([{ ...equal, attrs: { axis: int(1), num_outputs: int(3) } }, sized]);
    expect(initializers).toEqual([]);
  });

  it("trains an opset-17 model whose Split has no sizes", async () => {
    const m: Model = {
      irVersion: 8,
      opsets: [{ domain: "", version: 17 }],
      producer: "test",
      graph: {
        name: "split",
        inputs: [{ name: "input", dtype: "float32", shape: ["batch", 4] }],
        outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 3] }],
        initializers: [
          { name: "w", dtype: "float32", dims: [3, 2], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
        ],
        nodes: [
          { ...node("Split", ["input"], ["a", "b"], "split"), attrs: { axis: int(1) } },
          node("Add", ["a", "b"], ["s"], "add"),
          { ...node("Gemm", ["s", "w"], ["logits"], "fc"), attrs: { transB: int(1) } },
        ],
      },
    };
    const c = compile(encodeModel(m), { optimizer: { kind: "sgd" } });
    const session = await createSession(c.trainStep);
    const feeds: Record<string, HostTensor> = {
      x: { dims: [2, 4], data: Float32Array.of(1, 0, 0, 1, 0, 1, 1, 0) },
      y: { dims: [2], data: BigInt64Array.of(0n, 2n) },
      lr: { dims: [], data: Float32Array.of(0.1) },
      step: { dims: [], data: BigInt64Array.of(0n) },
    };
    for (const [h, v] of Object.entries(c.hyperparameters)) feeds[h] = { dims: [], data: Float32Array.of(v) };
    for (const t of c.tensors) feeds[t.name] = { dims: t.shape, data: t.init };
    const out = await session.run(feeds);
    await session.release();
    // onnxruntime loaded the opset-18 graph and took a step: a finite loss, and the weight moved
    expect(Number.isFinite((out.loss.data as Float32Array)[0])).toBe(true);
    expect(Array.from(out["w.next"].data as Float32Array)).not.toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("compiles a PyTorch opset-17 model (ReduceMax with an axes attribute, a 1-D conv) at 18 and exports it at 17", () => {
    const bytes = new Uint8Array(readFileSync("test/fixtures/torch-modern/conv1d_text.onnx"));
    const c = compile(bytes, { optimizer: { kind: "sgd" } });
    const loop = c.dump("trainLoop");
    expect(loop).toMatch(/Col2Im/);
    expect(loop).not.toMatch(/ReduceMax\([^)]*\) \{axes=/);
    const exported = decodeModel(
      c.exportInference(Object.fromEntries(c.tensors.map((t) => [t.name, t.init]))),
    );
    expect(exported.opsets).toEqual([{ domain: "", version: 17 }]);
    const max = exported.graph.nodes.find((n) => n.op === "ReduceMax");
    expect(max?.attrs.axes).toEqual(ints([2]));
    expect(max?.inputs).toHaveLength(1);
  });
});
