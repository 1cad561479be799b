// The explicit list of ops the compiler supports. An op missing here fails compilation with an error
// naming the op type, the node and this list.
//
// How to add an op:
// 1. Pick (or create) its family file in src/graph/ops/ and export an `OpRule` (see types.ts):
//    - `shape(ctx)`: output Meta (dtype, shape with the symbolic batch dim, and `value` for small
//      integer tensors so Shape-only subgraphs can be evaluated);
//    - `grad`: one function per differentiable input index, `{ 0: (ctx) => …, 1: (ctx) => … }`
//      (`gradEach(ctx, i)` for variadic ops). The driver calls a function only when its input lies on
//      a path from a parameter, and always provides `ctx.dY` (dLoss/d output 0; `ctx.dOut(i)` for the
//      others), so a rule never checks for a missing gradient. Write the math in a comment above the
//      nodes, name results `${input}_grad`. Return `{ value, from: outputShape }` for broadcasting
//      ops: the driver sums it down to the input's shape. Fan-out sums and ordering are the driver's job.
//    - `forward(ctx)` only when training/eval must emit something other than a copy of the node
//      (MaxPool asks for indices, Dropout builds its mask, BatchNorm uses batch statistics and
//      reports new running statistics with `ctx.stateUpdate`; such inputs are listed in `stateInputs`).
//    - `expand(ctx)` instead of `forward`/`grad` when the op is best written as standard ops that
//      already have rules (GRU, LSTM): the driver differentiates the expansion.
//    Float constants in gradients go through `ctx.b.fconst(ctx.dtype, …)` (gradient checks run in
//    float64), casts through `ctx.b.cast(x, dtype)`; report bad models with `ctx.fail(msg)`, which
//    names the node. Annotate `shape(ctx: ShapeCtx)` so `if (!x) ctx.fail(…)` narrows.
// 2. Register it in `OPS` below (alphabetical).
// 3. Add a row to the gradient-check table in test/graph/gradcheck.test.ts (float64 where ORT's CPU
//    kernels support double, else `dtype: "float32"` with a looser `tol`; broadcast cases; inputs
//    away from kinks via `draw: "offzero" | "positive" | "distinct"`). A known gap is a row with
//    `fails: "reason"` (run as it.fails), never a skipped row. A test fails when an op with a
//    gradient rule has no row.

import type { Node } from "../ir.ts";
import {
  Abs,
  Clip,
  Elu,
  Erf,
  Exp,
  Gelu,
  HardSigmoid,
  HardSwish,
  Identity,
  LeakyRelu,
  Log,
  Neg,
  Reciprocal,
  Relu,
  Sigmoid,
  Softplus,
  Sqrt,
  Tanh,
} from "./activations.ts";
import { Conv } from "./conv.ts";
import { Dropout } from "./dropout.ts";
import {
  Add,
  And,
  Div,
  Equal,
  Greater,
  GreaterOrEqual,
  Less,
  LessOrEqual,
  Mul,
  Not,
  Or,
  Pow,
  Sub,
  Where,
} from "./elementwise.ts";
import { Gather } from "./gather.ts";
import { ConstantOfShape, Range } from "./generate.ts";
import { Gemm, MatMul } from "./linear.ts";
import { BatchNormalization, LayerNormalization } from "./norm.ts";
import { AveragePool, GlobalAveragePool, MaxPool } from "./pool.ts";
import { ReduceMax, ReduceMean, ReduceSum } from "./reduce.ts";
import { GRU, LSTM } from "./rnn.ts";
import {
  Cast,
  Concat,
  Constant,
  Flatten,
  Pad,
  Reshape,
  Shape,
  Size,
  Squeeze,
  Transpose,
  Unsqueeze,
} from "./shape.ts";
import { Expand, Slice, Split, Trilu } from "./slice.ts";
import { LogSoftmax, Softmax } from "./softmax.ts";
import type { OpRule } from "./types.ts";

export const OPS: Readonly<Record<string, OpRule>> = {
  Abs,
  Add,
  And,
  AveragePool,
  BatchNormalization,
  Cast,
  Clip,
  Concat,
  Constant,
  ConstantOfShape,
  Conv,
  Div,
  Dropout,
  Elu,
  Equal,
  Erf,
  Exp,
  Expand,
  Flatten,
  Gather,
  Gelu,
  Gemm,
  GlobalAveragePool,
  Greater,
  GreaterOrEqual,
  GRU,
  HardSigmoid,
  HardSwish,
  Identity,
  LayerNormalization,
  LeakyRelu,
  Less,
  LessOrEqual,
  Log,
  LogSoftmax,
  LSTM,
  MatMul,
  MaxPool,
  Mul,
  Neg,
  Not,
  Or,
  Pad,
  Pow,
  Range,
  Reciprocal,
  ReduceMax,
  ReduceMean,
  ReduceSum,
  Relu,
  Reshape,
  Shape,
  Sigmoid,
  Size,
  Slice,
  Softmax,
  Softplus,
  Split,
  Sqrt,
  Squeeze,
  Sub,
  Tanh,
  Transpose,
  Trilu,
  Unsqueeze,
  Where,
};

const isDefaultDomain = (domain: string) => domain === "" || domain === "ai.onnx";
const opName = (n: Node) => (isDefaultDomain(n.domain) ? n.op : `${n.domain}.${n.op}`);

/** The model uses ops outside OPS; the message names every one with its nodes, then the supported list. */
export class UnsupportedOpsError extends Error {
  override name = "UnsupportedOpsError";
  constructor(readonly nodes: { op: string; node: string }[]) {
    const byOp = new Map<string, string[]>();
    for (const n of nodes) byOp.set(n.op, [...(byOp.get(n.op) ?? []), `"${n.node}"`]);
    const list = [...byOp].map(
      ([op, names]) => `${op} (node${names.length > 1 ? "s" : ""} ${names.join(", ")})`,
    );
    super(
      `unsupported op${byOp.size > 1 ? "s" : ""} ${list.join("; ")}; supported ops: ${Object.keys(OPS).sort().join(", ")}`,
    );
  }
}

/** Throws an UnsupportedOpsError naming every node whose op has no rule (before any other check). */
export function checkSupported(nodes: readonly Node[]): void {
  const bad = nodes.filter((n) => !(isDefaultDomain(n.domain) && OPS[n.op]));
  if (bad.length) throw new UnsupportedOpsError(bad.map((n) => ({ op: opName(n), node: n.name })));
}

export function ruleFor(op: string, domain: string, nodeName: string): OpRule {
  const rule = isDefaultDomain(domain) ? OPS[op] : undefined;
  if (!rule) throw new UnsupportedOpsError([{ op: opName({ op, domain } as Node), node: nodeName }]);
  return rule;
}

export type { OpRule } from "./types.ts";
