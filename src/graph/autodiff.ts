// The forward emitter and the reverse-mode driver. The driver owns what every gradient rule would
// otherwise repeat: finding the nodes on a path from a parameter to the loss, visiting them in reverse
// topological order, summing fan-out, and un-broadcasting gradients to their input's shape.
import type { Builder, Dim, DType, Node } from "./ir.ts";
import { ruleFor } from "./ops/index.ts";
import type { ForwardCtx, GradCtx, Meta, Mode, OpRule } from "./ops/types.ts";

export interface ForwardOptions {
  mode: Mode;
  dropout: boolean;
  /** int64 scalar with the global step (training), for dropout masks. */
  step: string | null;
  seed: number;
  /** Value renames applied to node inputs (the model input → x, parameters → loop-carried names). */
  rename: Map<string, string>;
}

export interface ForwardPass {
  /** The forward nodes as the backward pass sees them (inputs renamed). */
  nodes: Node[];
  saved: Map<Node, Map<string, string>>;
  /** State name → value holding its new value (BatchNorm running statistics). */
  stateUpdates: Map<string, string>;
  meta(value: string): Meta;
}

const P = 2147483647;

export function nodeSeed(seed: number, index: number): number {
  return (((Math.abs(Math.trunc(seed)) % P) * 48271 + (index + 1) * 69621) % P) + 1;
}

export function emitForward(
  b: Builder,
  nodes: Node[],
  metas: Map<string, Meta>,
  opts: ForwardOptions,
): ForwardPass {
  const saved = new Map<Node, Map<string, string>>();
  const stateUpdates = new Map<string, string>();
  const inverse = new Map<string, string>();
  for (const [from, to] of opts.rename) inverse.set(to, from);
  const meta = (v: string): Meta => {
    const m = metas.get(v) ?? metas.get(inverse.get(v) ?? "");
    if (!m) throw new Error(`no shape known for value "${v}"`);
    return m;
  };
  const mapped: Node[] = [];
  nodes.forEach((orig, index) => {
    const node: Node = { ...orig, inputs: orig.inputs.map((v) => opts.rename.get(v) ?? v) };
    mapped.push(node);
    const rule = ruleFor(node.op, node.domain, node.name);
    const store = new Map<string, string>();
    saved.set(node, store);
    if (!rule.forward) {
      b.raw(node);
      return;
    }
    const ctx: ForwardCtx = {
      b,
      node,
      source: orig,
      mode: opts.mode,
      meta,
      dropout: opts.dropout,
      step: opts.step,
      nodeSeed: nodeSeed(opts.seed, index),
      save: (k, v) => store.set(k, v),
      stateUpdate: (s, v) => stateUpdates.set(s, v),
    };
    rule.forward(ctx);
  });
  return { nodes: mapped, saved, stateUpdates, meta };
}

function diffInputs(rule: OpRule, node: Node): number[] {
  if (!rule.diff) return [];
  if (rule.diff === "all") return node.inputs.map((_, i) => i);
  return rule.diff;
}

/** Sums `g` (shaped `from`) down to shape `to` along the axes numpy broadcasting expanded. */
export function unbroadcast(b: Builder, g: string, from: Dim[], to: Dim[], hint: string): string {
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead || (to[i - lead] === 1 && from[i] !== 1)) axes.push(i);
  }
  if (!axes.length) return g;
  // only leading axes: one ReduceSum without keepdims already has the input's shape
  if (axes.length === lead) return b.reduceSum(g, axes, false, hint);
  const summed = b.reduceSum(g, axes, true, hint);
  return lead > 0
    ? b.squeeze(
        summed,
        Array.from({ length: lead }, (_, i) => i),
        hint,
      )
    : summed;
}

/**
 * Builds dLoss/dw for every w in `wrt`, given the gradients of some forward values (`seeds`, e.g.
 * dLoss/dlogits from the loss). Only nodes on a path from a parameter to a seeded value get rules run.
 */
export function backward(
  b: Builder,
  fwd: ForwardPass,
  seeds: Map<string, string>,
  wrt: string[],
  dtype: DType,
): Map<string, string> {
  const fromParam = new Set<string>(wrt);
  for (const node of fwd.nodes) {
    const rule = ruleFor(node.op, node.domain, node.name);
    if (diffInputs(rule, node).some((i) => fromParam.has(node.inputs[i]))) {
      for (const o of node.outputs) if (o) fromParam.add(o);
    }
  }
  const contributions = new Map<string, string[]>();
  for (const [v, g] of seeds) contributions.set(v, [g]);
  const total = (v: string): string | null => {
    const list = contributions.get(v);
    if (!list || list.length === 0) return null;
    if (list.length === 1) return list[0];
    // fan-out: a value used by several nodes gets the sum of their gradients
    const s = b.op("Sum", list, {}, `${v}_grad`);
    contributions.set(v, [s]);
    return s;
  };
  for (let k = fwd.nodes.length - 1; k >= 0; k--) {
    const node = fwd.nodes[k];
    if (!node.outputs.some((o) => fromParam.has(o))) continue;
    const dY = node.outputs.map((o) => (o ? total(o) : null));
    if (dY.every((g) => g === null)) continue;
    const rule = ruleFor(node.op, node.domain, node.name);
    const diff = diffInputs(rule, node);
    if (!rule.grad)
      throw new Error(
        `${node.op} node "${node.name}" lies between a parameter and the loss but has no gradient rule`,
      );
    const store = fwd.saved.get(node) ?? new Map<string, string>();
    const ctx: GradCtx = {
      b,
      node,
      meta: fwd.meta,
      needs: (i) => Boolean(node.inputs[i]) && diff.includes(i) && fromParam.has(node.inputs[i]),
      saved(key) {
        const v = store.get(key);
        if (v === undefined) throw new Error(`${node.op} node "${node.name}": nothing saved under "${key}"`);
        return v;
      },
      dtype,
      fail(msg) {
        throw new Error(`${node.op} node "${node.name}": ${msg}`);
      },
    };
    const grads = rule.grad(ctx, dY);
    grads.forEach((g, i) => {
      if (g === null || g === undefined || !ctx.needs(i)) return;
      const input = node.inputs[i];
      const value =
        typeof g === "string" ? g : unbroadcast(b, g.value, g.from, fwd.meta(input).shape, `${input}_grad`);
      const list = contributions.get(input) ?? [];
      list.push(value);
      contributions.set(input, list);
    });
  }
  const out = new Map<string, string>();
  for (const w of wrt) {
    const g = total(w);
    if (!g) throw new Error(`parameter "${w}" does not reach the loss`);
    out.set(w, g);
  }
  return out;
}
