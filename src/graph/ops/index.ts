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

import { Identity, LeakyRelu, Relu, Sigmoid, Tanh } from "./activations.ts";
import { Conv } from "./conv.ts";
import { Dropout } from "./dropout.ts";
import { Add, Div, Mul, Sub } from "./elementwise.ts";
import { Gemm, MatMul } from "./linear.ts";
import { BatchNormalization } from "./norm.ts";
import { AveragePool, GlobalAveragePool, MaxPool } from "./pool.ts";
import {
  Cast,
  Concat,
  Constant,
  Flatten,
  Gather,
  Pad,
  Reshape,
  Shape,
  Size,
  Squeeze,
  Transpose,
  Unsqueeze,
} from "./shape.ts";
import { LogSoftmax, Softmax } from "./softmax.ts";
import type { OpRule } from "./types.ts";

export const OPS: Readonly<Record<string, OpRule>> = {
  Add,
  AveragePool,
  BatchNormalization,
  Cast,
  Concat,
  Constant,
  Conv,
  Div,
  Dropout,
  Flatten,
  Gather,
  Gemm,
  GlobalAveragePool,
  Identity,
  LeakyRelu,
  LogSoftmax,
  MatMul,
  MaxPool,
  Mul,
  Pad,
  Relu,
  Reshape,
  Shape,
  Sigmoid,
  Size,
  Softmax,
  Squeeze,
  Sub,
  Tanh,
  Transpose,
  Unsqueeze,
};

export function ruleFor(op: string, domain: string, nodeName: string): OpRule {
  const rule = domain === "" || domain === "ai.onnx" ? OPS[op] : undefined;
  if (!rule) {
    const what = domain && domain !== "ai.onnx" ? `${domain}.${op}` : op;
    throw new Error(
      `unsupported op ${what} (node "${nodeName}"); supported ops: ${Object.keys(OPS).sort().join(", ")}`,
    );
  }
  return rule;
}

export type { OpRule } from "./types.ts";
