// The forward emitter and the reverse-mode driver. The driver owns what every gradient rule would
// otherwise repeat: finding the nodes on a path from a parameter to the loss, visiting them in reverse
// topological order, summing fan-out, and un-broadcasting gradients to their input's shape.

import { inferNode } from "./infer.ts";
import type { Builder, Dim, DType, Node } from "./ir.ts";
import { zerosOf } from "./ops/generate.ts";
import { ruleFor } from "./ops/index.ts";
import { tensorValue } from "./ops/shape.ts";
import {
  diffInputs,
  type ForwardCtx,
  type Grad,
  type GradCtx,
  gradFn,
  type Meta,
  type Mode,
} from "./ops/types.ts";

export interface ForwardOptions {
  mode: Mode;
  dropout: boolean;
  /** int64 scalar with the global step (training), for dropout masks. */
  step: string | null;
  seed: number;
  /** Value renames applied to node inputs (the model input → x, parameters → loop-carried names). */
  rename: Map<string, string>;
  /**
   * Nodes the caller has the outputs of already (renamed in), named by their first output: they are
   * not emitted, but keep their place in the node count, so every Dropout draws the masks it would in
   * the whole pass.
   */
  skip?: ReadonlySet<string>;
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
  // metas of the values an op expansion (GRU, LSTM) introduces
  const extra = new Map<string, Meta>();
  const meta = (v: string): Meta => {
    const m = extra.get(v) ?? metas.get(v) ?? metas.get(inverse.get(v) ?? "");
    if (!m) throw new Error(`no shape known for value "${v}"`);
    return m;
  };
  const mapped: Node[] = [];
  let index = 0;
  const visit = (node: Node, orig: Node, skipped: boolean): void => {
    const rule = ruleFor(node.op, node.domain, node.name);
    // the op may become standard ops that have their own rules; the backward pass sees those
    const eb = b.child();
    if (
      rule.expand?.({
        b: eb,
        node,
        meta,
        fail(msg) {
          throw new Error(`${node.op} node "${node.name}": ${msg}`);
        },
      })
    ) {
      if (skipped) {
        // counted, not emitted: each part takes its seed index as it would have
        for (const n of eb.nodes) visit(n, n, true);
        return;
      }
      for (const t of eb.initializers) {
        b.addInitializer(t);
        extra.set(t.name, { dtype: t.dtype, shape: t.dims, value: tensorValue(t) });
      }
      for (const n of eb.nodes) {
        inferNode(
          n,
          b.opset,
          (v) => (extra.has(v) || metas.has(v) || inverse.has(v) ? meta(v) : undefined),
          extra,
        );
        visit(n, n, false);
      }
      return;
    }
    if (skipped) {
      index++;
      return;
    }
    mapped.push(node);
    const store = new Map<string, string>();
    saved.set(node, store);
    const seed = nodeSeed(opts.seed, index++);
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
      nodeSeed: seed,
      save: (k, v) => store.set(k, v),
      stateUpdate: (s, v) => stateUpdates.set(s, v),
    };
    rule.forward(ctx);
  };
  for (const orig of nodes)
    visit(
      { ...orig, inputs: orig.inputs.map((v) => opts.rename.get(v) ?? v) },
      orig,
      opts.skip?.has(orig.outputs[0]) ?? false,
    );
  return { nodes: mapped, saved, stateUpdates, meta };
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
    if (
      diffInputs(ruleFor(node.op, node.domain, node.name), node).some((i) => fromParam.has(node.inputs[i]))
    ) {
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
    const dOut = node.outputs.map((o) => (o ? total(o) : null));
    if (dOut.every((g) => g === null)) continue;
    const rule = ruleFor(node.op, node.domain, node.name);
    const needed = diffInputs(rule, node).filter((i) => node.inputs[i] && fromParam.has(node.inputs[i]));
    if (!needed.length) continue;
    const store = fwd.saved.get(node) ?? new Map<string, string>();
    let dY = dOut[0];
    const ctx: GradCtx = {
      b,
      node,
      meta: fwd.meta,
      // only another output carries a gradient (rare): output 0's is zero
      get dY() {
        dY ??= zerosOf(b, node.outputs[0], dtype);
        return dY;
      },
      dOut: (i) => dOut[i] ?? null,
      saved(key) {
        const v = store.get(key);
        if (v === undefined) throw new Error(`${node.op} node "${node.name}": nothing saved under "${key}"`);
        return v;
      },
      maybeSaved: (key) => store.get(key),
      dtype,
      fail(msg) {
        throw new Error(`${node.op} node "${node.name}": ${msg}`);
      },
    };
    // build every needed gradient first, then un-broadcast them in input order
    const grads: [number, Grad][] = needed.map((i) => [i, gradFn(rule, i)(ctx)]);
    for (const [i, g] of grads) {
      if (g === null) continue;
      const input = node.inputs[i];
      const value =
        typeof g === "string" ? g : unbroadcast(b, g.value, g.from, fwd.meta(input).shape, `${input}_grad`);
      const list = contributions.get(input) ?? [];
      list.push(value);
      contributions.set(input, list);
    }
  }
  const out = new Map<string, string>();
  for (const w of wrt) {
    const g = total(w);
    if (!g) throw new Error(`parameter "${w}" does not reach the loss`);
    out.set(w, g);
  }
  return out;
}
