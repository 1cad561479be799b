// Static shape inference over a forward graph with a symbolic batch dimension. Every node must have a
// rule (an unknown op fails here, naming op, node and the supported list), so this pass is also the
// compiler's validation of the model.
import type { Dim, Graph, Node } from "./ir.ts";
import { ruleFor } from "./ops/index.ts";
import { tensorValue } from "./ops/shape.ts";
import type { Meta, ShapeCtx } from "./ops/types.ts";

/** Orders nodes so every value is produced before it is used; throws on a cycle or a missing input. */
export function topoSort(graph: Graph): Node[] {
  const produced = new Set<string>([
    ...graph.inputs.map((v) => v.name),
    ...graph.initializers.map((t) => t.name),
    "",
  ]);
  const pending = [...graph.nodes];
  const out: Node[] = [];
  while (pending.length) {
    const i = pending.findIndex((n) => n.inputs.every((v) => produced.has(v)));
    if (i < 0) {
      const n = pending[0];
      const missing = n.inputs.filter((v) => !produced.has(v));
      throw new Error(`${n.op} node "${n.name}" uses values nothing produces: ${missing.join(", ")}`);
    }
    const [n] = pending.splice(i, 1);
    for (const o of n.outputs) produced.add(o);
    out.push(n);
  }
  return out;
}

/**
 * Metas for every value. `inputShapes` overrides the graph inputs' declared shapes (the compiler
 * passes the model input with its first dimension replaced by the batch symbol "N").
 */
export function inferShapes(
  graph: Graph,
  opset: number,
  inputShapes: Record<string, Dim[]> = {},
): Map<string, Meta> {
  const metas = new Map<string, Meta>();
  for (const t of graph.initializers)
    metas.set(t.name, { dtype: t.dtype, shape: t.dims, value: tensorValue(t) });
  for (const v of graph.inputs) {
    if (metas.has(v.name) && !inputShapes[v.name]) continue;
    const shape = inputShapes[v.name] ?? v.shape;
    if (!shape) throw new Error(`graph input "${v.name}" has no shape`);
    metas.set(v.name, { dtype: v.dtype, shape });
  }
  for (const node of topoSort(graph)) inferNode(node, opset, (v) => metas.get(v), metas);
  return metas;
}

/** Runs one node's shape rule, reading input metas through `lookup` and writing output metas to `out`. */
export function inferNode(
  node: Node,
  opset: number,
  lookup: (value: string) => Meta | undefined,
  out: Map<string, Meta>,
): void {
  const rule = ruleFor(node.op, node.domain, node.name);
  const fail = (msg: string): never => {
    throw new Error(`${node.op} node "${node.name}": ${msg}`);
  };
  const ctx: ShapeCtx = {
    node,
    opset,
    has: (i) => Boolean(node.inputs[i]),
    input(i) {
      const name = node.inputs[i];
      const m = name ? lookup(name) : undefined;
      if (!m) return fail(`input ${i} (${name || "absent"}) has no known shape`);
      return m;
    },
    fail,
  };
  const metas = rule.shape(ctx);
  node.outputs.forEach((o, i) => {
    if (o && metas[i]) out.set(o, metas[i]);
  });
}
