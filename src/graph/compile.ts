// Forward model + options → training graphs (single step and a K-step Loop), an eval graph and an
// exporter for the trained inference model. Pure: bytes in, bytes out.
//
// Graph I/O conventions (what a runner feeds and reads):
//   trainLoop  inputs  x float32 or int64 [K,B,...input], y int64 [K,B] (class indices, for every
//                      loss) or [K,B,T] for per-position logits [B,T,classes] (−100 = ignored),
//                      lr float32 [K], step int64 [K] (global 0-based step numbers),
//                      each `hyperparameters` key as a float32 scalar, every StateTensor by name
//              outputs loss, accuracy, grad_norm, confidence, true_prob float32 [K] and
//                      `<state>.next` for every StateTensor (K and B come from the input shapes)
//   trainStep  the same without the K axis (lr and step are scalars, metrics are scalars)
//   evalStep   inputs x [B,...], y [B], the "param" and "bn_running" tensors; outputs loss,
//              accuracy, confidence, true_prob (batch means, scalars) and logits [B, classes];
//              dropout off, BatchNorm on running statistics
// Adam/AdamW bias correction uses t = step + 1, SGD's first momentum step is step == 0 and dropout
// masks hash (seed, step, node, element) (ops/dropout.ts), so resuming with the same global step
// numbering, or packing a different K per run, reproduces an uninterrupted run.
import { backward, emitForward } from "./autodiff.ts";
import { dumpGraph } from "./dump.ts";
import { inferShapes, topoSort } from "./infer.ts";
import {
  Builder,
  type Dim,
  type Graph,
  type Model,
  type Node,
  numel,
  opsetOf,
  prune,
  type Tensor,
  type ValueInfo,
} from "./ir.ts";
import { buildLoss, type LossKind } from "./loss.ts";
import { decodeModel, encodeModel } from "./onnx.ts";
import { checkSupported, ruleFor } from "./ops/index.ts";
import { diffInputs, type Meta } from "./ops/types.ts";
import { emitUpdate, type OptimizerSpec, planOptimizer, type StepScalars } from "./optim.ts";
import { liftToOpset18, poolBeforeRelu } from "./reorder.ts";

export type { LossKind } from "./loss.ts";
export { UnsupportedOpsError } from "./ops/index.ts";
export type { OptimizerSpec } from "./optim.ts";

export interface CompileOptions {
  loss?: LossKind;
  optimizer: OptimizerSpec;
  /** false = dropout off while training (for parity with a reference run without dropout). */
  dropout?: boolean;
  /** Seeds the dropout masks (see ops/dropout.ts). */
  seed?: number;
}

export interface StateTensor {
  name: string;
  shape: number[];
  role: "param" | "optimizer" | "bn_running";
  init: Float32Array;
}

export interface CompiledModel {
  /** The model's data input: float32 features, or int64 token ids (an embedding's Gather). */
  input: { name: string; shape: number[]; dtype: InputDType };
  classes: number;
  /** Labels per sample: [] (one class per sample) or [T] (one per position: logits [B, T, classes]). */
  labelShape: number[];
  /** Parameters, then optimizer state, then BatchNorm running statistics: the order of the graph inputs. */
  tensors: StateTensor[];
  /** Scalar graph inputs with their values from the OptimizerSpec (lr is per step, not here). */
  hyperparameters: Record<string, number>;
  trainLoop: Uint8Array;
  trainStep: Uint8Array;
  evalStep: Uint8Array;
  exportInference(trained: Record<string, Float32Array>): Uint8Array;
  dump(which: "trainLoop" | "trainStep" | "evalStep"): string;
  /** Node counts by op type in the single-step training graph. */
  opSummary: Record<string, number>;
  parameterCount: number;
}

export type InputDType = "float32" | "int64";

export const METRICS = ["loss", "accuracy", "grad_norm", "confidence", "true_prob"] as const;
const IO_NAMES = ["x", "y", "lr", "step", "logits", ...METRICS];

export interface Analysis {
  model: Model;
  /** The opset the compiler's nodes are stated in: the model's, or 18 for an older model (lifted). */
  opset: number;
  nodes: Node[];
  metas: Map<string, Meta>;
  inputName: string;
  inputShape: number[];
  inputDtype: InputDType;
  logitsName: string;
  classes: number;
  /** Labels per sample: [] (one class per sample) or [T] (one per position, logits [B, T, classes]). */
  labelShape: number[];
  params: Tensor[];
  bnRunning: Tensor[];
  constants: Tensor[];
}

/**
 * Mulberry32 for default initialization. A copy of src/train/data/prng.ts's generator on purpose: the
 * compiler is the bottom layer and imports nothing from src/train.
 */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A model may declare its weights as graph inputs with static shapes instead of initializers. Those
 * become initializers with PyTorch's default initialization, drawn from `seed`: Linear/Conv weights
 * and biases U(−1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5), BatchNorm scale 1, shift 0,
 * running mean 0, running variance 1.
 */
function materializeWeightInputs(model: Model, seed: number): void {
  const g = model.graph;
  const initNames = new Set(g.initializers.map((t) => t.name));
  const candidates = g.inputs.filter((v) => !initNames.has(v.name));
  if (candidates.length <= 1) return;
  const weights = candidates.filter(
    (v) => v.shape && v.shape.length > 0 && v.shape.every((d) => typeof d === "number"),
  );
  if (weights.length !== candidates.length - 1) return; // let the one-data-input check explain
  const rand = seededRandom(seed ^ 0x9e3779b9);
  for (const v of weights) {
    const dims = v.shape as number[];
    const use = g.nodes.find((n) => n.inputs.includes(v.name));
    if (v.dtype !== "float32" || !use)
      throw new Error(
        `graph input "${v.name}" is neither the data input nor a float32 weight used by a node`,
      );
    const index = use.inputs.indexOf(v.name);
    const data = new Float32Array(numel(dims));
    if (use.op === "BatchNormalization") {
      if (index === 1 || index === 4) data.fill(1);
    } else {
      // fan_in of the node's weight: Gemm/MatMul [in,out] (or [out,in] with transB), Conv [O, C/g, kh, kw]
      const w =
        g.inputs.find((x) => x.name === use.inputs[1])?.shape ??
        g.initializers.find((t) => t.name === use.inputs[1])?.dims;
      if (!w?.every((d) => typeof d === "number"))
        throw new Error(`cannot initialize "${v.name}": its node's weight has no static shape`);
      const wd = w as number[];
      const transB = use.attrs.transB?.type === "int" && use.attrs.transB.i === 1;
      const fanIn = use.op === "Conv" ? numel(wd.slice(1)) : use.op === "Gemm" && transB ? wd[1] : wd[0];
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < data.length; i++) data[i] = (rand() * 2 - 1) * bound;
    }
    g.initializers.push({ name: v.name, dtype: "float32", dims, data });
  }
  g.inputs = g.inputs.filter((v) => !weights.includes(v));
}

export function analyse(bytes: Uint8Array, seed: number): Analysis {
  const model = decodeModel(bytes);
  const opset = opsetOf(model);
  if (opset < 13 || opset > 21)
    throw new Error(`unsupported opset ${opset}: models with opset 13 to 21 are accepted`);
  const g = model.graph;
  checkSupported(g.nodes);
  materializeWeightInputs(model, seed);
  const initNames = new Set(g.initializers.map((t) => t.name));
  const dataInputs = g.inputs.filter((v) => !initNames.has(v.name));
  if (dataInputs.length !== 1) {
    throw new Error(
      `the model must have exactly one data input (got ${dataInputs.length}: ${dataInputs.map((v) => v.name).join(", ")}); weights must be initializers`,
    );
  }
  if (g.outputs.length !== 1)
    throw new Error(`the model must have exactly one output (the logits), got ${g.outputs.length}`);
  const input = dataInputs[0];
  if (input.dtype !== "float32" && input.dtype !== "int64")
    throw new Error(
      `the model input "${input.name}" must be float32 (features) or int64 (token ids), got ${input.dtype}`,
    );
  const declared = input.shape ?? [];
  const rest = declared.slice(1);
  if (declared.length < 2) {
    throw new Error(
      `the model input "${input.name}" must have shape [batch, ...static dims], got [${declared}]`,
    );
  }
  if (rest.some((d) => typeof d === "number" && d <= 0)) {
    throw new Error(
      `the model input "${input.name}" must have shape [batch, ...static dims], got [${declared}]`,
    );
  }
  const dynamic = rest.findIndex((d) => typeof d !== "number");
  if (dynamic >= 0) {
    throw new Error(
      `the model input "${input.name}" has a dynamic dimension ${dynamic + 1} ("${rest[dynamic]}") in [${declared}]: only the batch dimension (0) may be dynamic; export with a fixed size there (for a sequence model, a fixed sequence length)`,
    );
  }
  for (const v of g.nodes.flatMap((n) => n.outputs)) {
    if (IO_NAMES.includes(v) && v !== g.outputs[0].name)
      throw new Error(`the model uses the reserved value name "${v}"`);
  }
  // Training graphs are built at opset 18 or later (Col2Im for convolution and pooling gradients): an older
  // model's nodes are restated at 18 here; the exported inference model keeps the original ones.
  const ordered = poolBeforeRelu(topoSort(g), g);
  const lifted = opset < 18 ? liftToOpset18(ordered, g) : null;
  const nodes = lifted?.nodes ?? ordered;
  const initializers = [...g.initializers, ...(lifted?.initializers ?? [])];
  const graphOpset = Math.max(opset, 18);
  const metas = inferShapes({ ...g, nodes, initializers }, graphOpset, { [input.name]: ["N", ...rest] });
  const logitsName = g.outputs[0].name;
  const out = metas.get(logitsName);
  const okRank = out?.shape.length === 2 || out?.shape.length === 3;
  if (!out || !okRank || out.shape[0] !== "N" || !out.shape.slice(1).every((d) => typeof d === "number")) {
    throw new Error(
      `the model output must be logits [batch, classes], or [batch, T, classes] for per-position targets (a language model), got [${out?.shape ?? "?"}]`,
    );
  }
  const paramNames = new Set<string>();
  const bnNames = new Set<string>();
  for (const n of nodes) {
    const rule = ruleFor(n.op, n.domain, n.name);
    for (const i of rule.stateInputs ?? []) if (initNames.has(n.inputs[i])) bnNames.add(n.inputs[i]);
    for (const i of diffInputs(rule, n)) {
      const v = n.inputs[i];
      if (v && initNames.has(v) && metas.get(v)?.dtype === "float32" && !(rule.stateInputs ?? []).includes(i))
        paramNames.add(v);
    }
  }
  const params = g.initializers.filter((t) => paramNames.has(t.name));
  const bnRunning = g.initializers.filter((t) => bnNames.has(t.name));
  const constants = initializers.filter((t) => !paramNames.has(t.name) && !bnNames.has(t.name));
  if (params.length === 0)
    throw new Error("the model has no float32 initializers that feed a differentiable op: nothing to train");
  return {
    model,
    opset: graphOpset,
    nodes,
    metas,
    inputName: input.name,
    inputShape: rest as number[],
    inputDtype: input.dtype,
    logitsName,
    classes: out.shape[out.shape.length - 1] as number,
    labelShape: out.shape.slice(1, -1) as number[],
    params,
    bnRunning,
    constants,
  };
}

interface StepEnv {
  x: string;
  y: string;
  lr: string;
  step: string;
  hyper: Record<string, string>;
  /** State tensor name → the value holding it in this graph. */
  state: Map<string, string>;
}

interface StepOut {
  metrics: Record<(typeof METRICS)[number], string>;
  next: Map<string, string>;
}

function emitTrainStep(
  b: Builder,
  a: Analysis,
  options: CompileOptions,
  tensors: StateTensor[],
  env: StepEnv,
): StepOut {
  const rename = new Map<string, string>([[a.inputName, env.x]]);
  for (const t of [...a.params, ...a.bnRunning]) rename.set(t.name, env.state.get(t.name) as string);
  const fwd = emitForward(b, a.nodes, a.metas, {
    mode: "train",
    dropout: options.dropout ?? true,
    step: env.step,
    seed: options.seed ?? 0,
    rename,
  });
  const loss = buildLoss(
    b,
    options.loss ?? "cross_entropy",
    a.logitsName,
    env.y,
    a.classes,
    a.labelShape.length > 0,
    true,
  );
  const paramValues = a.params.map((p) => env.state.get(p.name) as string);
  const grads = backward(b, fwd, new Map([[a.logitsName, loss.dlogits as string]]), paramValues, "float32");
  // grad_norm = √(Σ over parameters of Σ g²)
  const squares = paramValues.map((p) =>
    b.reduce("ReduceSumSquare", grads.get(p) as string, null, false, `${p}_grad_sq`),
  );
  const gradNorm = b.op("Sqrt", [squares.length === 1 ? squares[0] : b.op("Sum", squares)], {}, "grad_norm");
  const plan = planOptimizer(options.optimizer);
  const scalars: StepScalars = { lr: env.lr, step: env.step, hyper: env.hyper, shared: new Map() };
  const next = new Map<string, string>();
  for (const p of a.params) {
    const cur = env.state.get(p.name) as string;
    const stateNames = plan.stateSuffixes.map((s) => `${p.name}.${s}`);
    const upd = emitUpdate(
      b,
      options.optimizer,
      plan,
      cur,
      grads.get(cur) as string,
      stateNames.map((s) => env.state.get(s) as string),
      scalars,
      p.name,
    );
    next.set(p.name, upd.param);
    stateNames.forEach((s, i) => {
      next.set(s, upd.states[i]);
    });
  }
  for (const t of a.bnRunning)
    next.set(t.name, fwd.stateUpdates.get(t.name) ?? (env.state.get(t.name) as string));
  for (const t of tensors) if (!next.has(t.name)) throw new Error(`internal: no update for state ${t.name}`);
  return {
    metrics: {
      loss: loss.loss,
      accuracy: loss.accuracy,
      grad_norm: gradNorm,
      confidence: loss.confidence,
      true_prob: loss.trueProb,
    },
    next,
  };
}

/**
 * Makes `values[i]` available under `names[i]` as graph outputs: renames the producing node's output
 * (no copy) unless the value is a graph input, an initializer or already taken, which costs an Identity.
 */
function bindOutputs(b: Builder, values: string[], names: string[], external: Set<string>): void {
  const renamed = new Map<string, string>();
  values.forEach((v, i) => {
    if (v === names[i]) {
      renamed.set(v, v);
      return;
    }
    const current = renamed.get(v);
    if (current !== undefined || external.has(v) || !b.producerOf(v)) {
      b.nodes.push({
        op: "Identity",
        name: b.fresh(`${names[i]}_identity`),
        domain: "",
        inputs: [current ?? v],
        outputs: [names[i]],
        attrs: {},
      });
      b.reserve(names[i]);
    } else {
      b.rename(v, names[i]);
      renamed.set(v, names[i]);
    }
  });
}

const f32 = (name: string, shape: Dim[]): ValueInfo => ({ name, dtype: "float32", shape });
const xIn = (a: Analysis, shape: Dim[]): ValueInfo => ({ name: "x", dtype: a.inputDtype, shape });
const i64 = (name: string, shape: Dim[]): ValueInfo => ({ name, dtype: "int64", shape });

function makeModel(a: Analysis, b: Builder, name: string, inputs: ValueInfo[], outputs: ValueInfo[]): Model {
  return {
    irVersion: 8,
    opsets: [{ domain: "", version: a.opset }],
    producer: "gradstream",
    graph: {
      name,
      ...prune(
        b,
        outputs.map((o) => o.name),
      ),
      inputs,
      outputs,
    },
  };
}

export function compile(modelBytes: Uint8Array, options: CompileOptions): CompiledModel {
  const a = analyse(modelBytes, options.seed ?? 0);
  const plan = planOptimizer(options.optimizer);
  const lossKind: unknown = options.loss ?? "cross_entropy";
  if (lossKind !== "cross_entropy" && lossKind !== "mse" && lossKind !== "bce_with_logits") {
    throw new Error(`unknown loss ${String(lossKind)} (accepted: cross_entropy, mse, bce_with_logits)`);
  }
  if (a.labelShape.length > 0 && lossKind !== "cross_entropy")
    throw new Error(
      `loss ${lossKind} is not available for per-position logits [batch, ${a.labelShape}, ${a.classes}] (accepted: cross_entropy)`,
    );
  if (options.seed !== undefined && !Number.isInteger(options.seed))
    throw new Error(`seed must be an integer, got ${options.seed}`);
  const tensors: StateTensor[] = [
    ...a.params.map((t) => ({
      name: t.name,
      shape: t.dims,
      role: "param" as const,
      init: Float32Array.from(t.data as Float32Array),
    })),
    ...a.params.flatMap((t) =>
      plan.stateSuffixes.map((s) => ({
        name: `${t.name}.${s}`,
        shape: t.dims,
        role: "optimizer" as const,
        init: new Float32Array(numel(t.dims)),
      })),
    ),
    ...a.bnRunning.map((t) => ({
      name: t.name,
      shape: t.dims,
      role: "bn_running" as const,
      init: Float32Array.from(t.data as Float32Array),
    })),
  ];
  const hyperNames = Object.keys(plan.hyperparameters);
  for (const t of tensors) {
    if (IO_NAMES.includes(t.name) || hyperNames.includes(t.name)) {
      throw new Error(`the model's weight "${t.name}" has a name the training graphs reserve; rename it`);
    }
  }
  const forwardNames = new Set<string>([...a.metas.keys()]);
  const reserved = [
    ...forwardNames,
    ...IO_NAMES,
    ...hyperNames,
    ...tensors.flatMap((t) => [t.name, `${t.name}.next`]),
  ];
  const opset = a.opset;
  const stateInputs = tensors.map((t) => f32(t.name, t.shape));
  const stateOutputs = tensors.map((t) => f32(`${t.name}.next`, t.shape));
  const hyperInputs = hyperNames.map((h) => f32(h, []));
  const hyper = Object.fromEntries(hyperNames.map((h) => [h, h]));
  const inShape = a.inputShape;

  // ---- single step: x [B,...], y [B], lr [], step [] ----
  const sb = new Builder(opset, reserved);
  for (const t of a.constants) sb.addInitializer(t);
  const single = emitTrainStep(sb, a, options, tensors, {
    x: "x",
    y: "y",
    lr: "lr",
    step: "step",
    hyper,
    state: new Map(tensors.map((t) => [t.name, t.name])),
  });
  const external = new Set<string>(["x", "y", "lr", "step", ...hyperNames, ...tensors.map((t) => t.name)]);
  bindOutputs(
    sb,
    [...METRICS.map((m) => single.metrics[m]), ...tensors.map((t) => single.next.get(t.name) as string)],
    [...METRICS, ...tensors.map((t) => `${t.name}.next`)],
    external,
  );
  const stepModel = makeModel(
    a,
    sb,
    "train_step",
    [
      xIn(a, ["B", ...inShape]),
      i64("y", ["B", ...a.labelShape]),
      f32("lr", []),
      i64("step", []),
      ...hyperInputs,
      ...stateInputs,
    ],
    [...METRICS.map((m) => f32(m, [])), ...stateOutputs],
  );

  // ---- K steps in a Loop: x [K,B,...], y [K,B], lr [K], step [K]; state loop-carried ----
  const ob = new Builder(opset, reserved);
  const tripCount = ob.op("Gather", [ob.op("Shape", ["lr"]), ob.i64(0)], {}, "trip_count");
  const bb = ob.child();
  for (const t of a.constants) bb.addInitializer(t);
  const iter = bb.fresh("iter");
  const condIn = bb.fresh("cond_in");
  const bodyState = new Map(tensors.map((t) => [t.name, bb.fresh(`loop/${t.name}`)]));
  const pick = (v: string) => bb.op("Gather", [v, iter], { axis: { type: "int", i: 0 } }, `${v}_k`);
  const loopStep = emitTrainStep(bb, a, options, tensors, {
    x: pick("x"),
    y: pick("y"),
    lr: pick("lr"),
    step: pick("step"),
    hyper,
    state: bodyState,
  });
  const condOut = bb.op("Identity", [condIn], {}, "cond_out");
  const bodyOutNames = [
    ...tensors.map((t) => bb.fresh(`loop/${t.name}.next`)),
    ...METRICS.map((m) => bb.fresh(`loop/${m}`)),
  ];
  bindOutputs(
    bb,
    [...tensors.map((t) => loopStep.next.get(t.name) as string), ...METRICS.map((m) => loopStep.metrics[m])],
    bodyOutNames,
    new Set([...bodyState.values(), ...external]),
  );
  const body: Graph = {
    name: "train_step_body",
    ...prune(bb, [condOut, ...bodyOutNames]),
    inputs: [
      i64(iter, []),
      { name: condIn, dtype: "bool", shape: [] },
      ...tensors.map((t) => f32(bodyState.get(t.name) as string, t.shape)),
    ],
    outputs: [
      { name: condOut, dtype: "bool", shape: [] },
      ...tensors.map((t, i) => f32(bodyOutNames[i], t.shape)),
      ...METRICS.map((_, i) => f32(bodyOutNames[tensors.length + i], [])),
    ],
  };
  ob.nodes.push({
    op: "Loop",
    name: "train_loop",
    domain: "",
    inputs: [tripCount, "", ...tensors.map((t) => t.name)],
    outputs: [...tensors.map((t) => `${t.name}.next`), ...METRICS],
    attrs: { body: { type: "graph", g: body } },
  });
  const loopModel = makeModel(
    a,
    ob,
    "train_loop",
    [
      xIn(a, ["K", "B", ...inShape]),
      i64("y", ["K", "B", ...a.labelShape]),
      f32("lr", ["K"]),
      i64("step", ["K"]),
      ...hyperInputs,
      ...stateInputs,
    ],
    [...METRICS.map((m) => f32(m, ["K"])), ...stateOutputs],
  );

  // ---- eval: forward with dropout off and running statistics, loss and metrics, logits ----
  const eb = new Builder(opset, reserved);
  for (const t of a.constants) eb.addInitializer(t);
  emitForward(eb, a.nodes, a.metas, {
    mode: "eval",
    dropout: false,
    step: null,
    seed: 0,
    rename: new Map([[a.inputName, "x"]]),
  });
  const ev = buildLoss(
    eb,
    options.loss ?? "cross_entropy",
    a.logitsName,
    "y",
    a.classes,
    a.labelShape.length > 0,
    false,
  );
  const evalMetrics = ["loss", "accuracy", "confidence", "true_prob"];
  bindOutputs(eb, [ev.loss, ev.accuracy, ev.confidence, ev.trueProb], evalMetrics, new Set(["x", "y"]));
  if (a.logitsName !== "logits") eb.rename(a.logitsName, "logits");
  const evalTensors = tensors.filter((t) => t.role !== "optimizer");
  const evalModel = makeModel(
    a,
    eb,
    "eval_step",
    [
      xIn(a, ["B", ...inShape]),
      i64("y", ["B", ...a.labelShape]),
      ...evalTensors.map((t) => f32(t.name, t.shape)),
    ],
    [...evalMetrics.map((m) => f32(m, [])), f32("logits", ["B", ...a.labelShape, a.classes])],
  );

  const models = { trainLoop: loopModel, trainStep: stepModel, evalStep: evalModel };
  const opSummary: Record<string, number> = {};
  for (const n of stepModel.graph.nodes) opSummary[n.op] = (opSummary[n.op] ?? 0) + 1;
  return {
    input: { name: a.inputName, shape: a.inputShape, dtype: a.inputDtype },
    classes: a.classes,
    labelShape: a.labelShape,
    tensors,
    hyperparameters: { ...plan.hyperparameters },
    trainLoop: encodeModel(loopModel),
    trainStep: encodeModel(stepModel),
    evalStep: encodeModel(evalModel),
    exportInference: (trained) => exportInference(a, trained),
    dump: (which) => dumpGraph(models[which].graph),
    opSummary,
    parameterCount: a.params.reduce((s, t) => s + numel(t.dims), 0),
  };
}

/**
 * The original forward model with trained initializers, in inference form: Dropout becomes Identity
 * and BatchNormalization leaves training mode.
 */
function exportInference(a: Analysis, trained: Record<string, Float32Array>): Uint8Array {
  const g = a.model.graph;
  const initializers = g.initializers.map((t) => {
    const v = trained[t.name];
    if (!v) return t;
    if (v.length !== t.data.length)
      throw new Error(`trained value for "${t.name}" has ${v.length} elements, expected ${t.data.length}`);
    return { ...t, data: Float32Array.from(v) };
  });
  for (const t of [...a.params, ...a.bnRunning]) {
    if (!trained[t.name]) throw new Error(`exportInference: missing trained value for "${t.name}"`);
  }
  const nodes = g.nodes.map((n): Node => {
    if (n.op === "Dropout")
      return { ...n, op: "Identity", inputs: [n.inputs[0]], outputs: [n.outputs[0]], attrs: {} };
    if (n.op === "BatchNormalization") {
      const { training_mode: _unused, ...attrs } = n.attrs;
      return { ...n, outputs: [n.outputs[0]], attrs };
    }
    return n;
  });
  return encodeModel({ ...a.model, graph: { ...g, nodes, initializers } });
}
