// Forward-graph rewrites that change no value the model defines as output and no gradient, only how much
// work training does. They run on the compiler's copy of the nodes (training and eval graphs); the
// exported inference model keeps the original nodes.
import { attrInts, type Graph, int, type Node, type Tensor } from "./ir.ts";

/**
 * Relu → MaxPool becomes MaxPool → Relu when the MaxPool is the Relu output's only consumer. Both are
 * monotone, so max(relu(z)) = relu(max(z)) window by window, and the ReLU (its forward and its two-op
 * gradient) then runs on the pooled tensor, a quarter of the size for 2×2 pools. Gradients are unchanged,
 * ties included: in a window whose maximum is ≤ 0 both forms send nothing back (ReLU's gradient at 0 is
 * 0, as in PyTorch), and a positive maximum is the first maximum of z exactly when it is the first
 * maximum of relu(z).
 */
export function poolBeforeRelu(nodes: Node[], graph: Graph): Node[] {
  const consumers = new Map<string, number>();
  for (const n of nodes) for (const v of n.inputs) if (v) consumers.set(v, (consumers.get(v) ?? 0) + 1);
  const outputs = new Set(graph.outputs.map((v) => v.name));
  const taken = new Set<string>([
    ...nodes.flatMap((n) => [...n.inputs, ...n.outputs]),
    ...graph.inputs.map((v) => v.name),
    ...graph.initializers.map((t) => t.name),
  ]);
  const byOutput = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.outputs) byOutput.set(o, i);
  });
  const out = [...nodes];
  nodes.forEach((pool, i) => {
    if (pool.op !== "MaxPool" || pool.domain !== "" || (pool.outputs[1] ?? "") !== "") return;
    const r = pool.inputs[0];
    const j = byOutput.get(r);
    if (j === undefined) return;
    const relu = nodes[j];
    if (relu.op !== "Relu" || relu.domain !== "" || consumers.get(r) !== 1 || outputs.has(r)) return;
    let pooled = `${pool.outputs[0]}_before_relu`;
    for (let k = 1; taken.has(pooled); k++) pooled = `${pool.outputs[0]}_before_relu_${k}`;
    taken.add(pooled);
    // the pool moves to the Relu's place (its input is ready there), the Relu to the pool's
    out[j] = { ...pool, inputs: [relu.inputs[0], ...pool.inputs.slice(1)], outputs: [pooled] };
    out[i] = { ...relu, inputs: [pooled], outputs: [pool.outputs[0]] };
  });
  return out;
}

/** Reductions whose axes moved from an attribute to an input in opset 18 (ReduceSum did so at 13). */
const AXES_MOVED_AT_18 = new Set([
  "ReduceL1",
  "ReduceL2",
  "ReduceLogSum",
  "ReduceLogSumExp",
  "ReduceMax",
  "ReduceMean",
  "ReduceMin",
  "ReduceProd",
  "ReduceSumSquare",
]);

/**
 * The nodes of an opset 13–17 graph restated at opset 18, so training graphs may use opset-18 ops
 * (Col2Im for convolution and pooling gradients). Among the ops the compiler accepts, two changed
 * between 17 and 18: a reduction's `axes` attribute becomes an int64 constant input (returned as
 * `initializers`), and a Split into equal parts (no `split` input) must name its `num_outputs`. Every
 * other node is unchanged (13–17 graphs already compile as opset 17, whose rules differ from 18's only
 * by additions).
 */
export function liftToOpset18(nodes: Node[], graph: Graph): { nodes: Node[]; initializers: Tensor[] } {
  const taken = new Set<string>([
    ...nodes.flatMap((n) => [...n.inputs, ...n.outputs]),
    ...graph.inputs.map((v) => v.name),
    ...graph.initializers.map((t) => t.name),
  ]);
  const initializers: Tensor[] = [];
  const lifted = nodes.map((n) => {
    if (n.domain !== "" && n.domain !== "ai.onnx") return n;
    if (n.op === "Split" && !n.inputs[1])
      return { ...n, attrs: { ...n.attrs, num_outputs: int(n.outputs.length) } };
    const axes = attrInts(n, "axes");
    if (!AXES_MOVED_AT_18.has(n.op) || !axes) return n;
    let name = `${n.outputs[0]}_axes`;
    for (let k = 1; taken.has(name); k++) name = `${n.outputs[0]}_axes_${k}`;
    taken.add(name);
    initializers.push({ name, dtype: "int64", dims: [axes.length], data: BigInt64Array.from(axes, BigInt) });
    const { axes: _moved, ...attrs } = n.attrs;
    return { ...n, inputs: [n.inputs[0], name], attrs };
  });
  return { nodes: lifted, initializers };
}
