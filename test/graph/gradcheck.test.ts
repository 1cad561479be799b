// Every op's gradient rule, checked against central finite differences (see harness.ts).
import { describe, expect, it } from "vitest";
import { float, int, ints, str } from "../../src/graph/ir.ts";
import { OPS } from "../../src/graph/ops/index.ts";
import { type GradCase, gradCheck, gradientsAt } from "./harness.ts";

const f = (shape: number[], draw?: "any" | "offzero" | "positive" | "distinct") => ({ shape, draw });
const i64 = (values: number[]) => ({ shape: [values.length], values });

// One row per op form. float64 unless ORT's CPU kernel is float-only (Conv, ConvTranspose-based grads).
const CASES: GradCase[] = [
  { name: "Gemm", op: "Gemm", inputs: [f([3, 4]), f([4, 5]), f([5])] },
  {
    name: "Gemm transA transB alpha beta",
    op: "Gemm",
    attrs: { transA: int(1), transB: int(1), alpha: float(0.7), beta: float(1.3) },
    inputs: [f([4, 3]), f([5, 4]), f([3, 5])],
  },
  {
    name: "Gemm transB with a column bias",
    op: "Gemm",
    attrs: { transB: int(1) },
    inputs: [f([3, 4]), f([5, 4]), f([3, 1])],
  },
  { name: "Gemm transA", op: "Gemm", attrs: { transA: int(1) }, inputs: [f([4, 3]), f([4, 5])] },
  { name: "MatMul", op: "MatMul", inputs: [f([3, 4]), f([4, 2])] },
  { name: "MatMul batched with a broadcast weight", op: "MatMul", inputs: [f([2, 3, 4]), f([4, 2])] },
  { name: "Add broadcast row", op: "Add", inputs: [f([3, 4]), f([4])] },
  { name: "Add broadcast both", op: "Add", inputs: [f([3, 1]), f([1, 4])] },
  { name: "Sub broadcast", op: "Sub", inputs: [f([2, 3, 4]), f([3, 1])] },
  { name: "Mul broadcast", op: "Mul", inputs: [f([2, 3]), f([2, 1])] },
  { name: "Div broadcast", op: "Div", inputs: [f([2, 3]), f([3], "positive")] },
  { name: "Relu", op: "Relu", inputs: [f([3, 5], "offzero")] },
  { name: "LeakyRelu", op: "LeakyRelu", attrs: { alpha: float(0.1) }, inputs: [f([3, 5], "offzero")] },
  { name: "Sigmoid", op: "Sigmoid", inputs: [f([3, 5])] },
  { name: "Tanh", op: "Tanh", inputs: [f([3, 5])] },
  { name: "Softmax", op: "Softmax", attrs: { axis: int(1) }, inputs: [f([3, 5])] },
  { name: "Softmax middle axis", op: "Softmax", attrs: { axis: int(1) }, inputs: [f([2, 3, 4])] },
  { name: "LogSoftmax", op: "LogSoftmax", attrs: { axis: int(-1) }, inputs: [f([3, 5])] },
  { name: "Identity", op: "Identity", inputs: [f([2, 3])] },
  { name: "Cast double to double", op: "Cast", attrs: { to: int(11) }, inputs: [f([2, 3])] },
  { name: "Flatten", op: "Flatten", attrs: { axis: int(1) }, inputs: [f([2, 3, 2, 2])] },
  { name: "Reshape with -1", op: "Reshape", inputs: [f([2, 3, 4]), i64([-1, 4])] },
  { name: "Transpose", op: "Transpose", attrs: { perm: ints([2, 0, 1]) }, inputs: [f([2, 3, 4])] },
  { name: "Unsqueeze", op: "Unsqueeze", inputs: [f([2, 3]), i64([1])] },
  { name: "Squeeze", op: "Squeeze", inputs: [f([2, 1, 3]), i64([1])] },
  { name: "Concat", op: "Concat", attrs: { axis: int(1) }, inputs: [f([2, 3]), f([2, 2])] },
  {
    name: "Conv",
    op: "Conv",
    dtype: "float32",
    tol: 2e-2,
    attrs: { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) },
    inputs: [f([2, 3, 5, 5]), f([4, 3, 3, 3]), f([4])],
  },
  {
    name: "Conv stride 2 dilation 2 no bias",
    op: "Conv",
    dtype: "float32",
    tol: 2e-2,
    attrs: {
      kernel_shape: ints([3, 3]),
      strides: ints([2, 2]),
      dilations: ints([2, 2]),
      pads: ints([1, 0, 2, 1]),
    },
    inputs: [f([2, 2, 7, 6]), f([3, 2, 3, 3])],
  },
  {
    name: "Conv groups 2 auto_pad SAME_UPPER",
    op: "Conv",
    dtype: "float32",
    tol: 2e-2,
    attrs: { kernel_shape: ints([3, 2]), strides: ints([2, 1]), group: int(2), auto_pad: str("SAME_UPPER") },
    inputs: [f([1, 4, 5, 4]), f([6, 2, 3, 2]), f([6])],
  },
  {
    name: "MaxPool 2x2 tiles",
    op: "MaxPool",
    dtype: "float32",
    tol: 1e-3,
    attrs: { kernel_shape: ints([2, 2]), strides: ints([2, 2]) },
    inputs: [f([2, 3, 4, 4], "distinct")],
  },
  {
    name: "MaxPool 3x2 tiles",
    op: "MaxPool",
    dtype: "float32",
    tol: 1e-3,
    attrs: { kernel_shape: ints([3, 2]), strides: ints([3, 2]) },
    inputs: [f([1, 2, 6, 4], "distinct")],
  },
  {
    name: "MaxPool overlapping padded",
    op: "MaxPool",
    attrs: { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) },
    inputs: [f([1, 2, 5, 5], "distinct")],
  },
  {
    name: "AveragePool padded excluding pads",
    op: "AveragePool",
    dtype: "float32",
    tol: 2e-2,
    attrs: { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) },
    inputs: [f([1, 2, 5, 5])],
  },
  {
    name: "AveragePool count_include_pad",
    op: "AveragePool",
    dtype: "float32",
    tol: 2e-2,
    attrs: {
      kernel_shape: ints([2, 2]),
      strides: ints([1, 1]),
      pads: ints([1, 1, 0, 0]),
      count_include_pad: int(1),
    },
    inputs: [f([1, 2, 4, 4])],
  },
  {
    name: "GlobalAveragePool",
    op: "GlobalAveragePool",
    dtype: "float32",
    tol: 2e-2,
    inputs: [f([2, 3, 4, 5])],
  },
  { name: "Pad constant", op: "Pad", inputs: [f([2, 3, 4]), i64([0, 1, 2, 0, 2, 0])] },
  {
    name: "BatchNormalization training on NCHW",
    op: "BatchNormalization",
    attrs: { epsilon: float(1e-3) },
    outputs: 3,
    inputs: [
      f([3, 2, 3, 2]),
      f([2], "positive"),
      f([2]),
      { shape: [2], values: [0.1, -0.2], dtype: "float64" },
      { shape: [2], values: [1, 2], dtype: "float64" },
    ],
  },
  {
    name: "BatchNormalization training on NC",
    op: "BatchNormalization",
    outputs: 3,
    inputs: [
      f([5, 3]),
      f([3], "positive"),
      f([3]),
      { shape: [3], values: [0, 0, 0], dtype: "float64" },
      { shape: [3], values: [1, 1, 1], dtype: "float64" },
    ],
  },
  {
    name: "Dropout on (mask fixed by the step)",
    op: "Dropout",
    outputs: 2,
    dropout: true,
    inputs: [f([4, 6]), { shape: [], values: [0.5], dtype: "float64" }],
  },
  {
    name: "Dropout off in a gradient check is the identity",
    op: "Dropout",
    outputs: 2,
    inputs: [f([3, 4]), { shape: [], values: [0.5], dtype: "float64" }],
  },
];

describe("gradient rules match central finite differences", () => {
  for (const c of CASES) {
    const tol = c.tol ?? (c.dtype === "float32" ? 1e-2 : 1e-6);
    const test = c.fails ? it.fails : it;
    test(`${c.name}: the directional derivative agrees within ${tol}`, async () => {
      const r = await gradCheck(c);
      expect(Math.abs(r.analytic)).toBeGreaterThan(1e-6);
      expect(r.relErr).toBeLessThan(tol);
    });
  }
});

describe("the gradient-check table covers the registry", () => {
  it("every op with a gradient rule has at least one row in the table", () => {
    const withRule = Object.entries(OPS)
      .filter(([, r]) => r.grad || r.gradEach || r.expand)
      .map(([op]) => op);
    const covered = new Set(CASES.map((c) => c.op));
    expect(withRule.filter((op) => !covered.has(op))).toEqual([]);
    expect(withRule.length).toBeGreaterThan(20);
  });
});

describe("max-pool gradients on ties", () => {
  for (const [name, attrs] of [
    ["tiling 2x2 windows", { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }],
    ["overlapping windows", { kernel_shape: ints([2, 2]), strides: ints([1, 1]) }],
  ] as const) {
    it(`${name}: a window of equal values sends its whole gradient to its first element, as PyTorch does`, async () => {
      const { dY, grads } = await gradientsAt({
        name,
        op: "MaxPool",
        dtype: "float32",
        attrs,
        inputs: [{ shape: [1, 1, 2, 2], at: [0.5, 0.5, 0.5, 0.5] }],
      });
      expect(grads[0]).toEqual([dY.reduce((a, v) => a + v, 0), 0, 0, 0]);
    });
  }
});
