// The compiler's forward rewrite: Relu → MaxPool runs as MaxPool → Relu when nothing else reads the ReLU.
import { describe, expect, it } from "vitest";
import { type Graph, ints, type Node } from "../../src/graph/ir.ts";
import { poolBeforeRelu } from "../../src/graph/reorder.ts";

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
