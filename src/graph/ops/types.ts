// The contract between the autodiff driver and one op's rules. An op is a shape rule (forward model
// values → output metadata, with small integer tensors evaluated so Shape-only subgraphs that feed a
// Reshape resolve), an optional forward emitter for training/eval (Dropout, MaxPool, BatchNorm differ
// from a plain copy) and an optional gradient rule. Rules are pure functions of their context.
import type { Builder, Dim, DType, Node } from "../ir.ts";

/** What the compiler knows about a value: dtype, shape with a symbolic batch, and small constant contents. */
export interface Meta {
  dtype: DType;
  shape: Dim[];
  /** Contents of small int64/float constants (entries may be symbolic, e.g. a Shape of the batch). */
  value?: Dim[];
}

export interface ShapeCtx {
  node: Node;
  opset: number;
  /** Meta of input i; throws with the node named when the input is absent and `optional` is not set. */
  input(i: number): Meta;
  has(i: number): boolean;
  fail(msg: string): never;
}

export type Mode = "train" | "eval";

export interface ForwardCtx {
  b: Builder;
  node: Node;
  /** The node as the model wrote it (before inputs were renamed for this graph). */
  source: Node;
  mode: Mode;
  meta(value: string): Meta;
  /** Dropout is active in training unless the compile options turned it off (for parity runs). */
  dropout: boolean;
  /** int64 scalar value holding the global step (training only): random masks derive from it. */
  step: string | null;
  /** Per-node seed derived from the compile seed and the node's position (stable across compiles). */
  nodeSeed: number;
  /** Anything the gradient rule needs from the forward pass (e.g. MaxPool indices, a dropout mask). */
  save(key: string, value: string): void;
  /** Registers an extra state output (BatchNorm's updated running statistics): state name (as in
   * `source`) → new value. */
  stateUpdate(stateName: string, value: string): void;
}

export interface ExpandCtx {
  /** Emits the replacement nodes; they must write the op's outputs (`node.outputs`). */
  b: Builder;
  node: Node;
  meta(value: string): Meta;
  fail(msg: string): never;
}

/** A gradient in the shape of the broadcast result (`from`); the driver sums it down to the input's shape. */
export interface Broadcast {
  value: string;
  from: Dim[];
}

/** An input's gradient; null only where no gradient can flow (an integer input of a Cast). */
export type Grad = string | Broadcast | null;

export interface GradCtx {
  b: Builder;
  node: Node;
  meta(value: string): Meta;
  /** dLoss/d(output 0). The driver guarantees it: zeros when only another output carries a gradient. */
  readonly dY: string;
  /** dLoss/d(output i), or null when nothing downstream of that output reaches the loss. */
  dOut(i: number): string | null;
  saved(key: string): string;
  /** What the forward emitter saved under `key`, or undefined (Dropout off saves no mask). */
  maybeSaved(key: string): string | undefined;
  /** The float type gradients are computed in (float32, or float64 in gradient checks). */
  dtype: DType;
  fail(msg: string): never;
}

/** Builds one input's gradient. The driver calls it only when that input lies on a path from a parameter. */
export type GradFn = (ctx: GradCtx) => Grad;

export interface OpRule {
  shape(ctx: ShapeCtx): Meta[];
  /** Emits the node for training or evaluation; absent = copy the node unchanged. */
  forward?(ctx: ForwardCtx): void;
  /**
   * The gradient of each differentiable input, by input index (absent = the op is not
   * differentiable). Inputs without an entry carry no gradient (shapes, axes, indices).
   */
  grad?: Readonly<Record<number, GradFn>>;
  /** For variadic ops (Concat): the gradient of input i, for every input. Replaces `grad`. */
  gradEach?(ctx: GradCtx, i: number): Grad;
  /** Inputs that are carried state rather than parameters (BatchNorm running mean/var). */
  stateInputs?: number[];
  /**
   * Rewrites the op as standard ops with rules of their own (training and eval graphs) and returns
   * true, or returns false (emitting nothing) for forms the op's own rules handle. The reverse pass
   * differentiates the expansion, so every float input may carry a gradient.
   */
  expand?(ctx: ExpandCtx): boolean;
}

/** The input indices gradients flow through, in order. */
export function diffInputs(rule: OpRule, node: Node): number[] {
  if (rule.gradEach || rule.expand) return node.inputs.map((_, i) => i);
  return rule.grad ? Object.keys(rule.grad).map(Number) : [];
}

/** The gradient function of input i (diffInputs says which exist). */
export function gradFn(rule: OpRule, i: number): GradFn {
  const each = rule.gradEach;
  if (each) return (ctx) => each(ctx, i);
  const fn = rule.grad?.[i];
  if (!fn) throw new Error(`internal: no gradient function for input ${i}`);
  return fn;
}

// ---------- shared shape helpers ----------

export function broadcastShapes(a: Dim[], b: Dim[], fail: (m: string) => never): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x === y) out.push(x);
    else if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else fail(`shapes [${a}] and [${b}] do not broadcast`);
  }
  return out;
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Shape rule of an op whose single output has its first input's dtype and shape. */
export function sameAsInput(ctx: ShapeCtx): Meta[] {
  const x = ctx.input(0);
  return [{ dtype: x.dtype, shape: x.shape }];
}
