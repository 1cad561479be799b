// Hostile ONNX files for the limit and fuzz tests: truncated, garbage, external-data weights, absurd
// and negative shapes. Built from the project's own encoder (and onnx-proto for the fields it does not
// write), so each differs from a valid model in exactly one way.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import type { Model } from "../../src/graph/ir.ts";
import { decodeModel, encodeModel } from "../../src/graph/onnx.ts";
import { MODELS_DIR } from "../../src/server/app.ts";
import type { Live } from "../helpers/live-server.ts";

const { onnx } = onnxProto;

export const linearBytes = (): Uint8Array => new Uint8Array(readFileSync(join(MODELS_DIR, "linear.onnx")));

/** Conv(3→2, 1×1) → GlobalAveragePool → Flatten: 8 parameters whatever the image size. */
export function poolModel(height: number, width: number): Uint8Array {
  const m: Model = {
    irVersion: 8,
    opsets: [{ domain: "", version: 17 }],
    producer: "gradstream-test",
    graph: {
      name: "pool",
      inputs: [{ name: "x", dtype: "float32", shape: ["N", 3, height, width] }],
      outputs: [{ name: "logits", dtype: "float32", shape: ["N", 2] }],
      initializers: [
        { name: "w", dtype: "float32", dims: [2, 3, 1, 1], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
        { name: "b", dtype: "float32", dims: [2], data: Float32Array.from([0, 0]) },
      ],
      nodes: [
        { op: "Conv", name: "conv", domain: "", inputs: ["x", "w", "b"], outputs: ["c"], attrs: {} },
        { op: "GlobalAveragePool", name: "gap", domain: "", inputs: ["c"], outputs: ["g"], attrs: {} },
        {
          op: "Flatten",
          name: "flat",
          domain: "",
          inputs: ["g"],
          outputs: ["logits"],
          attrs: { axis: { type: "int", i: 1 } },
        },
      ],
    },
  };
  return encodeModel(m);
}

/** linear.onnx whose first initializer points at an external file instead of embedding its data. */
export function externalDataModel(location = "/etc/passwd"): Uint8Array {
  const m = onnx.ModelProto.decode(linearBytes());
  const init = m.graph?.initializer?.[0];
  if (!init) throw new Error("linear.onnx has no initializer");
  init.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  init.externalData = [onnx.StringStringEntryProto.create({ key: "location", value: location })];
  init.rawData = new Uint8Array();
  init.floatData = [];
  return onnx.ModelProto.encode(m).finish();
}

/** linear.onnx with its input's feature dimension replaced. */
export function linearWithInputDim(dim: number): Uint8Array {
  const m = decodeModel(linearBytes());
  m.graph.inputs[0].shape = ["batch", dim];
  return encodeModel(m);
}

/** linear.onnx followed by a chain of n Relu nodes (valid, just long). */
export function reluChain(n: number): Uint8Array {
  const m = decodeModel(linearBytes());
  const out = m.graph.outputs[0].name;
  m.graph.nodes[0].outputs = ["h0"];
  for (let i = 0; i < n; i++) {
    m.graph.nodes.push({
      op: "Relu",
      name: `relu${i}`,
      domain: "",
      inputs: [`h${i}`],
      outputs: [i === n - 1 ? out : `h${i + 1}`],
      attrs: {},
    });
  }
  return encodeModel(m);
}

/** linear.onnx with an initializer claiming dims its data does not fill. */
export function lyingInitializer(): Uint8Array {
  const m = decodeModel(linearBytes());
  m.graph.initializers[0].dims = [2 ** 31, 2 ** 31];
  return encodeModel(m);
}

/** Row counts of every table, to show that refused input changed nothing. */
export async function rowCounts(l: Live): Promise<Record<string, number>> {
  const p = l.app.db?.prisma;
  if (!p) throw new Error("no database");
  return {
    models: await p.model.count(),
    datasets: await p.dataset.count(),
    runs: await p.run.count(),
    batches: await p.batchMetric.count(),
    epochs: await p.epochMetric.count(),
    checkpoints: await p.checkpoint.count(),
    rollups: await p.metricRollup.count(),
    tokens: await p.apiToken.count(),
  };
}
