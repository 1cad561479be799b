// The noise probe: a small graph compiled beside the training Loop that evaluates, at the current
// parameters and without changing them, what the loss-noise decomposition and the gradient noise
// scale need. Pure: bytes in, bytes out, standard ONNX ops only.
//
// Graph I/O (what src/train/probe.ts feeds and reads):
//   inputs   px [P,B,...input] and py [P,B,...labels]: the fixed probe batches;
//            mask_step int64 [P·M] (only when the model has Dropout and dropout is on): pass k of the
//            dropout loop evaluates probe batch k mod P under the masks of "step" mask_step[k];
//            gx [2Q,H,...input], gy [2Q,H,...labels], gstep int64 [2Q]: Q fresh training batches of
//            2H samples, each split into its two halves (rows 2q and 2q+1);
//            every "param" and "bn_running" state tensor by name.
//   outputs  clean_loss [P]      the loss of each probe batch with dropout off;
//            dropout_loss [P·M]  the same batches under M dropout masks (only with dropout);
//            grad_sq_small [Q]   (|g_a|² + |g_b|²)/2: squared gradient norm at batch size H, the mean of
//                                the two halves;
//            grad_sq_big [Q]     |(g_a + g_b)/2|²: squared gradient norm at batch size 2H (the whole);
//            grad_sq_all []      |mean of all 2Q half gradients|²: squared gradient norm at batch size
//                                2QH (McCandlish et al. pair the smallest batch with the largest one
//                                available: the |G|² estimate's variance falls with B_big²).
// Each part is a Loop over its batches whose body is the forward pass (and, for the gradients, the
// loss and reverse pass), so one graph serves any P, M and Q. The three bodies copy the forward nodes
// under their own value prefixes (names stay unique across subgraphs) and read the parameters from the
// outer scope. BatchNorm uses batch statistics as in training; its running statistics are not updated.
import { backward, emitForward } from "./autodiff.ts";
import { type Analysis, analyse } from "./compile.ts";
import { Builder, type Dim, type Graph, type Model, type Node, prune, type ValueInfo } from "./ir.ts";
import { buildLoss, type LossKind } from "./loss.ts";
import { encodeModel } from "./onnx.ts";
import type { Meta } from "./ops/types.ts";

export interface ProbeOptions {
  loss?: LossKind;
  /** false: the run trains without dropout, so the probe has no dropout loop. */
  dropout?: boolean;
  /** The run's seed (dropout masks and default initialization follow it, as in training). */
  seed?: number;
  /**
   * false: every dropout pass recomputes the whole forward pass instead of starting from the clean
   * pass's values before the first Dropout (the same numbers, slower; the tests compare the two).
   */
  sharePrefix?: boolean;
}

export interface CompiledProbe {
  graph: Uint8Array;
  /** Whether the graph has the dropout loop (mask_step input, dropout_loss output). */
  hasDropout: boolean;
  /** State tensors the graph reads, by name (parameters, then BatchNorm running statistics). */
  stateNames: string[];
}

/**
 * Copies the forward nodes with every value they define (and every constant) renamed `prefix + name`,
 * so the same forward pass can be emitted in several subgraphs of one model. Model inputs, parameters
 * and running statistics keep their names (the bodies read them from the outer scope).
 */
function prefixed(
  a: Analysis,
  prefix: string,
): { nodes: Node[]; metas: Map<string, Meta>; constants: Analysis["constants"] } {
  const names = new Map<string, string>();
  for (const n of a.nodes) for (const o of n.outputs) if (o) names.set(o, prefix + o);
  for (const t of a.constants) names.set(t.name, prefix + t.name);
  const map = (v: string) => names.get(v) ?? v;
  const nodes = a.nodes.map((n) => ({
    ...n,
    name: prefix + n.name,
    inputs: n.inputs.map(map),
    outputs: n.outputs.map(map),
  }));
  const metas = new Map<string, Meta>();
  for (const [k, m] of a.metas) metas.set(map(k), m);
  const constants = a.constants.map((t) => ({ ...t, name: map(t.name) }));
  return { nodes, metas, constants };
}

const f32 = (name: string, shape: Dim[]): ValueInfo => ({ name, dtype: "float32", shape });
const i64 = (name: string, shape: Dim[]): ValueInfo => ({ name, dtype: "int64", shape });

interface Body {
  b: Builder;
  iter: string;
  cond: string;
}

function newBody(outer: Builder, tag: string): Body {
  const b = outer.child();
  return { b, iter: b.fresh(`${tag}/iter`), cond: b.fresh(`${tag}/cond_in`) };
}

/** Wraps a body whose scan outputs are `scans` (float32 with the given per-iteration shapes) in a Loop. */
function loop(
  outer: Builder,
  body: Body,
  tag: string,
  trip: string,
  scans: { value: string; shape: Dim[]; out: string }[],
): void {
  const { b } = body;
  const condOut = b.op("Identity", [body.cond], {}, `${tag}/cond_out`);
  const outs = scans.map((s) => {
    const name = b.fresh(`${tag}/${s.out}`);
    b.nodes.push({
      op: "Identity",
      name: b.fresh(`${name}_node`),
      domain: "",
      inputs: [s.value],
      outputs: [name],
      attrs: {},
    });
    return name;
  });
  // Only what the outputs need: the loss builds every metric, and a gradient nothing reads (the image
  // gradient of a first conv's pool) would still run.
  const graph: Graph = {
    name: tag,
    ...prune(b, [condOut, ...outs]),
    inputs: [i64(body.iter, []), { name: body.cond, dtype: "bool", shape: [] }],
    outputs: [{ name: condOut, dtype: "bool", shape: [] }, ...scans.map((s, i) => f32(outs[i], s.shape))],
  };
  outer.nodes.push({
    op: "Loop",
    name: outer.fresh(`${tag}_loop`),
    domain: "",
    inputs: [trip, ""],
    outputs: scans.map((s) => s.out),
    attrs: { body: { type: "graph", g: graph } },
  });
  for (const s of scans) outer.reserve(s.out);
}

/**
 * The forward pass and loss of one batch inside a body; returns the loss value and the forward pass.
 * `given`: values (by their unprefixed names) the body has already, e.g. from the clean loop; the nodes
 * in `skip` (named by their first output) are then left out.
 */
function forwardLoss(
  body: Body,
  a: Analysis,
  prefix: string,
  x: string,
  y: string,
  opts: {
    dropout: boolean;
    step: string | null;
    seed: number;
    loss: LossKind;
    withGrad: boolean;
    given?: Map<string, string>;
    skip?: ReadonlySet<string>;
  },
) {
  const p = prefixed(a, prefix);
  for (const t of p.constants) body.b.addInitializer(t);
  const rename = new Map([[a.inputName, x]]);
  for (const [v, value] of opts.given ?? []) rename.set(prefix + v, value);
  const fwd = emitForward(body.b, p.nodes, p.metas, {
    mode: "train",
    dropout: opts.dropout,
    step: opts.step,
    seed: opts.seed,
    rename,
    skip: opts.skip && new Set([...opts.skip].map((v) => prefix + v)),
  });
  const logits = prefix + a.logitsName;
  const loss = buildLoss(body.b, opts.loss, logits, y, a.classes, a.labelShape.length > 0, opts.withGrad);
  return { fwd, loss, logits };
}

/**
 * Values per sample the clean loop may stack for the dropout passes (256 KB of float32 a sample, so at
 * most 32 MB for the default 4 probe batches of 32). A Dropout right after an early, wide layer would
 * hand over more: recomputing the shared part then costs less than holding its output.
 */
export const MAX_HANDOFF_PER_SAMPLE = 65_536;

/**
 * The part of the forward pass every dropout pass shares with the clean one: the nodes that read the
 * input and no Dropout output compute the same values under any mask (the seed CNN's convolutions and
 * first Gemm: only its last Gemm follows its Dropout). `skip` names them by their first output;
 * `handoff` lists their values the rest reads. Null when nothing is shared, when a handed-off value is
 * not float32 (the clean loop stacks them as float32 scan outputs) or has a size other than its batch
 * axis that is not fixed, or when they hold more than MAX_HANDOFF_PER_SAMPLE values a sample.
 */
export function sharedPrefix(a: Analysis): { skip: Set<string>; handoff: string[] } | null {
  const fromInput = new Set([a.inputName]);
  const fromDropout = new Set<string>();
  const skip = new Set<string>();
  const sharedOut = new Set<string>();
  for (const n of a.nodes) {
    const dropped = n.op === "Dropout" || n.inputs.some((v) => fromDropout.has(v));
    const fed = n.inputs.some((v) => fromInput.has(v));
    const outs = n.outputs.filter((o) => o);
    for (const o of outs) {
      if (dropped) fromDropout.add(o);
      if (fed) fromInput.add(o);
    }
    if (fed && !dropped && outs.length) {
      skip.add(n.outputs[0]);
      for (const o of outs) sharedOut.add(o);
    }
  }
  // nothing to share, or logits no Dropout reaches (the dropout passes would all be the clean one)
  if (skip.size === 0 || sharedOut.has(a.logitsName)) return null;
  const handoff = new Set<string>();
  for (const n of a.nodes) {
    if (skip.has(n.outputs[0])) continue;
    for (const v of n.inputs) if (sharedOut.has(v)) handoff.add(v);
  }
  let perSample = 0;
  for (const v of handoff) {
    const m = a.metas.get(v);
    const rest = m?.shape.slice(1) ?? [];
    if (m?.dtype !== "float32" || rest.some((d) => typeof d !== "number")) return null;
    perSample += (rest as number[]).reduce((x, y) => x * y, 1);
  }
  if (perSample > MAX_HANDOFF_PER_SAMPLE) return null;
  return { skip, handoff: [...handoff] };
}

export function compileProbe(modelBytes: Uint8Array, options: ProbeOptions = {}): CompiledProbe {
  const seed = options.seed ?? 0;
  const a = analyse(modelBytes, seed);
  const lossKind = options.loss ?? "cross_entropy";
  const hasDropout = options.dropout !== false && a.nodes.some((n) => n.op === "Dropout");
  const opset = a.opset;
  const reserved = [a.inputName, ...a.params.map((t) => t.name), ...a.bnRunning.map((t) => t.name)];
  const ob = new Builder(opset, [
    ...reserved,
    ...["px", "py", "mask_step", "gx", "gy", "gstep", "clean_loss", "dropout_loss", "half_grads"],
  ]);
  const pick = (b: Builder, v: string, i: string) =>
    b.op("Gather", [v, i], { axis: { type: "int", i: 0 } }, `${v}_k`);
  const tripOf = (v: string) => ob.op("Gather", [ob.op("Shape", [v]), ob.i64(0)], {}, `${v}_count`);

  // With dropout, the clean loop also hands the dropout passes what they share with it (stacked per
  // probe batch), so a pass recomputes only what follows the first Dropout: for the seed CNN the
  // probe's P·M dropout passes shrink to the last Gemm and the loss (exactly the same values).
  const shared = hasDropout && options.sharePrefix !== false ? sharedPrefix(a) : null;
  const stacked = new Map((shared?.handoff ?? []).map((v) => [v, ob.fresh(`shared/${v}`)]));

  // Clean losses: the probe batches at the current parameters with dropout off. Their mean is the
  // clean trend; their spread across batches is the sampling variance at this batch size.
  const clean = newBody(ob, "clean");
  const c = forwardLoss(
    clean,
    a,
    "clean/",
    pick(clean.b, "px", clean.iter),
    pick(clean.b, "py", clean.iter),
    {
      dropout: false,
      step: null,
      seed,
      loss: lossKind,
      withGrad: false,
    },
  );
  loop(ob, clean, "clean", tripOf("px"), [
    { value: c.loss.loss, shape: [], out: "clean_loss" },
    ...[...stacked].map(([v, out]) => ({ value: `clean/${v}`, shape: a.metas.get(v)?.shape ?? [], out })),
  ]);

  // Dropout losses: pass k is probe batch k mod P under the masks of step mask_step[k]; the spread of
  // one batch's losses across masks is the dropout variance.
  if (hasDropout) {
    const drop = newBody(ob, "dropout");
    const P = drop.b.op("Gather", [drop.b.op("Shape", ["px"]), drop.b.i64(0)], {}, "probe_batches");
    const k = drop.b.op("Mod", [drop.iter, P], {}, "probe_index");
    const step = pick(drop.b, "mask_step", drop.iter);
    // the input itself only when a node after the shared part reads it
    const readsInput =
      !shared || a.nodes.some((n) => !shared.skip.has(n.outputs[0]) && n.inputs.includes(a.inputName));
    const x = readsInput ? pick(drop.b, "px", k) : a.inputName;
    const given = new Map([...stacked].map(([v, all]) => [v, pick(drop.b, all, k)]));
    const d = forwardLoss(drop, a, "dropout/", x, pick(drop.b, "py", k), {
      dropout: true,
      step,
      seed,
      loss: lossKind,
      withGrad: false,
      given,
      ...(shared ? { skip: shared.skip } : {}),
    });
    loop(ob, drop, "dropout", tripOf("mask_step"), [{ value: d.loss.loss, shape: [], out: "dropout_loss" }]);
  }

  // Half-batch gradients: pass j is the gradient of the mean loss over half-batch j (as training
  // computes it: dropout per the run, masks of step gstep[j]), flattened into one vector.
  const grad = newBody(ob, "grad");
  const g = forwardLoss(grad, a, "grad/", pick(grad.b, "gx", grad.iter), pick(grad.b, "gy", grad.iter), {
    dropout: options.dropout !== false,
    step: pick(grad.b, "gstep", grad.iter),
    seed,
    loss: lossKind,
    withGrad: true,
  });
  const paramNames = a.params.map((t) => t.name);
  const grads = backward(
    grad.b,
    g.fwd,
    new Map([[g.logits, g.loss.dlogits as string]]),
    paramNames,
    "float32",
  );
  const flat = paramNames.map((p) =>
    grad.b.op("Reshape", [grads.get(p) as string, grad.b.i64([-1])], {}, `${p}_grad_flat`),
  );
  const vec =
    flat.length === 1 ? flat[0] : grad.b.op("Concat", flat, { axis: { type: "int", i: 0 } }, "grad_vector");
  const n = a.params.reduce((s, t) => s + t.dims.reduce((x, y) => x * y, 1), 0);
  loop(ob, grad, "grad", tripOf("gstep"), [{ value: vec, shape: [n], out: "half_grads" }]);

  // With g_a, g_b the two halves' gradients (batch H each) and (g_a + g_b)/2 the whole batch's (2H):
  //   |G_small|² = (|g_a|² + |g_b|²)/2,   |G_big|² = |g_a + g_b|²/4.
  const pairs = ob.op("Reshape", ["half_grads", ob.i64([-1, 2, n])], {}, "grad_pairs");
  const ga = ob.op("Gather", [pairs, ob.i64(0)], { axis: { type: "int", i: 1 } }, "grad_a");
  const gb = ob.op("Gather", [pairs, ob.i64(1)], { axis: { type: "int", i: 1 } }, "grad_b");
  const sqA = ob.reduce("ReduceSumSquare", ga, [1], false, "grad_a_sq");
  const sqB = ob.reduce("ReduceSumSquare", gb, [1], false, "grad_b_sq");
  const small = ob.op("Mul", [ob.op("Add", [sqA, sqB]), ob.f32(0.5)], {}, "grad_sq_small");
  const sum = ob.op("Add", [ga, gb], {}, "grad_sum");
  const big = ob.op("Mul", [ob.reduce("ReduceSumSquare", sum, [1], false), ob.f32(0.25)], {}, "grad_sq_big");
  const mean = ob.reduce("ReduceMean", "half_grads", [0], false, "grad_mean");
  const all = ob.reduce("ReduceSumSquare", mean, null, false, "grad_sq_all");
  if (small !== "grad_sq_small" || big !== "grad_sq_big" || all !== "grad_sq_all")
    throw new Error("internal: probe output names taken");

  const xs = (name: string, lead: Dim[]): ValueInfo => ({
    name,
    dtype: a.inputDtype,
    shape: [...lead, ...a.inputShape],
  });
  const state = [...a.params, ...a.bnRunning];
  const outNames = ["clean_loss", ...(hasDropout ? ["dropout_loss"] : []), small, big, all];
  const model: Model = {
    irVersion: 8,
    opsets: [{ domain: "", version: opset }],
    producer: "gradstream",
    graph: {
      name: "noise_probe",
      ...prune(ob, outNames),
      inputs: [
        xs("px", ["P", "B"]),
        i64("py", ["P", "B", ...a.labelShape]),
        ...(hasDropout ? [i64("mask_step", ["PM"])] : []),
        xs("gx", ["Q2", "H"]),
        i64("gy", ["Q2", "H", ...a.labelShape]),
        i64("gstep", ["Q2"]),
        ...state.map((t) => f32(t.name, t.dims)),
      ],
      outputs: [
        f32("clean_loss", ["P"]),
        ...(hasDropout ? [f32("dropout_loss", ["PM"])] : []),
        f32("grad_sq_small", ["Q"]),
        f32("grad_sq_big", ["Q"]),
        f32("grad_sq_all", []),
      ],
    },
  };
  return { graph: encodeModel(model), hasDropout, stateNames: state.map((t) => t.name) };
}
