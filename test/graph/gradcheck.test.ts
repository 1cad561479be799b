// Every op's gradient rule, checked against central finite differences (see harness.ts).
import { describe, expect, it } from "vitest";
import { float, int, ints, str } from "../../src/graph/ir.ts";
import { OPS } from "../../src/graph/ops/index.ts";
import { type GradCase, gradCheck, gradientsAt } from "./harness.ts";

const f = (shape: number[], draw?: "any" | "offzero" | "positive" | "distinct") => ({ shape, draw });
const i64 = (values: number[]) => ({ shape: [values.length], values });
const scalar = (v: number) => ({ shape: [], values: [v], dtype: "float64" as const });
/** Fixed points spread over [lo, hi] (to cover saturated and linear pieces), kept off the given kinks. */
const spread = (shape: number[], lo: number, hi: number) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, at: Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (i + 0.37)) / n) };
};

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
  // activations and unary math
  { name: "Erf", dtype: "float32", tol: 1e-2, op: "Erf", inputs: [f([3, 5])] },
  {
    name: "Gelu exact (opset 20)",
    dtype: "float32",
    tol: 1e-2,
    op: "Gelu",
    opset: 20,
    inputs: [spread([3, 5], -3, 3)],
  },
  {
    name: "Gelu tanh approximation (opset 20)",
    dtype: "float32",
    tol: 1e-2,
    op: "Gelu",
    opset: 20,
    attrs: { approximate: str("tanh") },
    inputs: [spread([3, 5], -3, 3)],
  },
  { name: "Exp", op: "Exp", inputs: [f([3, 4])] },
  { name: "Log", op: "Log", inputs: [f([3, 4], "positive")] },
  { name: "Neg", op: "Neg", inputs: [f([3, 4])] },
  { name: "Sqrt", op: "Sqrt", inputs: [f([3, 4], "positive")] },
  { name: "Reciprocal", op: "Reciprocal", inputs: [f([3, 4], "offzero")] },
  { name: "Abs", op: "Abs", inputs: [f([3, 4], "offzero")] },
  { name: "Pow with a broadcast exponent", op: "Pow", inputs: [f([3, 4], "positive"), f([4])] },
  { name: "Pow squared (old LayerNorm exports)", op: "Pow", inputs: [f([3, 4]), scalar(2)] },
  {
    name: "HardSwish over all three pieces",
    dtype: "float32",
    tol: 1e-2,
    op: "HardSwish",
    inputs: [spread([4, 5], -5.1, 4.9)],
  },
  {
    name: "HardSigmoid over all three pieces",
    dtype: "float32",
    tol: 1e-2,
    op: "HardSigmoid",
    inputs: [spread([4, 5], -4.1, 3.9)],
  },
  { name: "Clip as ReLU6", op: "Clip", inputs: [spread([4, 5], -2.1, 7.9), scalar(0), scalar(6)] },
  { name: "Clip with only a minimum", op: "Clip", inputs: [spread([3, 4], -1.05, 0.95), scalar(-0.5)] },
  { name: "Softplus", dtype: "float32", tol: 1e-2, op: "Softplus", inputs: [f([3, 4])] },
  {
    name: "Elu",
    dtype: "float32",
    tol: 1e-2,
    op: "Elu",
    attrs: { alpha: float(0.7) },
    inputs: [f([3, 4], "offzero")],
  },
  // normalization
  {
    name: "LayerNormalization over the last axis",
    op: "LayerNormalization",
    attrs: { epsilon: float(1e-5) },
    inputs: [f([3, 5]), f([5], "positive"), f([5])],
  },
  {
    name: "LayerNormalization over the last two axes without a bias",
    op: "LayerNormalization",
    attrs: { axis: int(1) },
    inputs: [f([2, 3, 4]), f([3, 4], "positive")],
  },
  // reductions
  {
    name: "ReduceMean axes attribute keepdims 0",
    op: "ReduceMean",
    attrs: { axes: ints([1]), keepdims: int(0) },
    inputs: [f([2, 3, 4])],
  },
  { name: "ReduceMean over every axis", op: "ReduceMean", inputs: [f([2, 3])] },
  {
    name: "ReduceMean axes input (opset 18)",
    op: "ReduceMean",
    opset: 18,
    attrs: { keepdims: int(1) },
    inputs: [f([2, 3, 4]), i64([0, 2])],
  },
  {
    name: "ReduceSum axes input keepdims 0",
    op: "ReduceSum",
    attrs: { keepdims: int(0) },
    inputs: [f([2, 3, 4]), i64([-1])],
  },
  {
    name: "ReduceMax (amax) over the time axis",
    op: "ReduceMax",
    attrs: { axes: ints([2]), keepdims: int(0) },
    inputs: [f([2, 3, 5], "distinct")],
  },
  // selection, layout, broadcasting
  {
    name: "Split into three with one output used",
    op: "Split",
    outputs: 3,
    attrs: { axis: int(1) },
    inputs: [f([2, 6, 2]), i64([1, 2, 3])],
  },
  { name: "Split into equal parts", op: "Split", outputs: 2, attrs: { axis: int(-1) }, inputs: [f([3, 4])] },
  {
    name: "Slice step 1 on two axes",
    op: "Slice",
    inputs: [f([4, 5, 3]), i64([1, -4]), i64([3, 100]), i64([0, 1])],
  },
  {
    name: "Slice steps 2 and -2",
    op: "Slice",
    inputs: [f([5, 6]), i64([0, 5]), i64([5, 0]), i64([0, 1]), i64([2, -2])],
  },
  { name: "Expand", op: "Expand", inputs: [f([3, 1]), i64([2, 3, 4])] },
  {
    name: "Where with a broadcast condition",
    op: "Where",
    inputs: [{ shape: [3], values: [1, 0, 1], dtype: "bool" }, f([2, 3]), f([2, 1])],
  },
  { name: "Trilu lower", op: "Trilu", attrs: { upper: int(0) }, inputs: [f([2, 4, 4])] },
  { name: "Trilu upper with k", op: "Trilu", inputs: [f([3, 4]), { shape: [], values: [1] }] },
  {
    name: "Gather rows of an embedding table, some twice",
    op: "Gather",
    inputs: [f([5, 3]), { shape: [2, 3], values: [1, 0, 4, 1, 1, -1] }],
  },
  {
    name: "Gather one time step (axis 1, scalar index)",
    op: "Gather",
    attrs: { axis: int(1) },
    inputs: [f([2, 4, 3]), { shape: [], values: [-1] }],
  },
  {
    name: "MatMul attention scores [B,H,T,d]·[B,H,d,T]",
    op: "MatMul",
    inputs: [f([2, 2, 3, 4]), f([2, 2, 4, 3])],
  },
  { name: "MatMul broadcasting batch axes", op: "MatMul", inputs: [f([2, 1, 3, 4]), f([3, 4, 2])] },
  { name: "Softmax last axis of 4-D", op: "Softmax", attrs: { axis: int(-1) }, inputs: [f([2, 2, 3, 3])] },
  {
    name: "Transpose heads",
    op: "Transpose",
    attrs: { perm: ints([0, 2, 1, 3]) },
    inputs: [f([2, 3, 2, 4])],
  },
  // 1-D windows
  {
    name: "Conv 1-D with dilation and padding",
    op: "Conv",
    dtype: "float32",
    tol: 2e-2,
    attrs: { kernel_shape: ints([3]), dilations: ints([2]), pads: ints([1, 2]) },
    inputs: [f([2, 3, 9]), f([4, 3, 3]), f([4])],
  },
  {
    name: "MaxPool 1-D tiles",
    op: "MaxPool",
    dtype: "float32",
    tol: 1e-3,
    attrs: { kernel_shape: ints([2]), strides: ints([2]) },
    inputs: [f([2, 3, 8], "distinct")],
  },
  {
    name: "MaxPool 1-D overlapping",
    op: "MaxPool",
    attrs: { kernel_shape: ints([3]), strides: ints([2]), pads: ints([1, 1]) },
    inputs: [f([1, 2, 7], "distinct")],
  },
  {
    name: "AveragePool 1-D",
    op: "AveragePool",
    dtype: "float32",
    tol: 2e-2,
    attrs: { kernel_shape: ints([3]), strides: ints([1]), pads: ints([1, 1]) },
    inputs: [f([2, 2, 6])],
  },
  // recurrent (the unrolled expansion)
  {
    name: "GRU forward, linear_before_reset (torch's form)",
    op: "GRU",
    attrs: { hidden_size: int(3), linear_before_reset: int(1) },
    inputs: [f([4, 2, 5]), f([1, 9, 5]), f([1, 9, 3]), f([1, 18])],
  },
  {
    name: "GRU bidirectional, reset before the product, batch-first layout",
    op: "GRU",
    attrs: { hidden_size: int(2), direction: str("bidirectional"), layout: int(1) },
    inputs: [f([2, 3, 4]), f([2, 6, 4]), f([2, 6, 2]), f([2, 12])],
  },
  {
    name: "LSTM forward",
    op: "LSTM",
    attrs: { hidden_size: int(3) },
    inputs: [f([3, 2, 4]), f([1, 12, 4]), f([1, 12, 3]), f([1, 24])],
  },
  {
    name: "LSTM reverse without biases",
    op: "LSTM",
    attrs: { hidden_size: int(2), direction: str("reverse") },
    inputs: [f([3, 2, 3]), f([1, 8, 3]), f([1, 8, 2])],
  },
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
    name: "Conv 5x5 asymmetric pads",
    op: "Conv",
    dtype: "float32",
    tol: 2e-2,
    attrs: { kernel_shape: ints([5, 5]), pads: ints([2, 1, 2, 0]) },
    inputs: [f([2, 2, 6, 7]), f([3, 2, 5, 5]), f([3])],
  },
  {
    name: "Conv 5x5 stride 2 dilation 2 with rows the stride drops",
    op: "Conv",
    dtype: "float32",
    tol: 2e-2,
    attrs: {
      kernel_shape: ints([5, 5]),
      strides: ints([2, 3]),
      dilations: ints([2, 1]),
      pads: ints([1, 1, 0, 1]),
    },
    inputs: [f([2, 2, 12, 11]), f([3, 2, 5, 5]), f([3])],
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

// From opset 18 (compiled models are lifted to 18) an ungrouped conv's input gradient is a MatMul and a
// Col2Im, and a tiled max pool puts its gradient back with a Col2Im, each instead of a ConvTranspose:
// those rows again, on that path.
const AT_18: GradCase[] = CASES.filter(
  (c) => (c.op === "Conv" && !c.attrs?.group) || (c.op === "MaxPool" && c.name.includes("tiles")),
).map((c) => ({ ...c, name: `${c.name} at opset 18 (Col2Im)`, opset: 18 }));
CASES.push(...AT_18);

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

/** A float32 MaxPool's gradients at the point `at`. */
const pooled = (name: string, opset: number, attrs: GradCase["attrs"], shape: number[], at: number[]) =>
  gradientsAt({ name, op: "MaxPool", dtype: "float32", opset, attrs, inputs: [{ shape, at }] });

describe("max-pool gradients on ties", () => {
  for (const [name, attrs] of [
    ["tiling 2x2 windows", { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }],
    ["overlapping windows", { kernel_shape: ints([2, 2]), strides: ints([1, 1]) }],
  ] as const) {
    for (const opset of [17, 18])
      it(`${name}, opset ${opset}: a window of equal values sends its whole gradient to its first element, as PyTorch does`, async () => {
        const { dY, grads } = await pooled(name, opset, attrs, [1, 1, 2, 2], [0.5, 0.5, 0.5, 0.5]);
        expect(grads[0]).toEqual([dY.reduce((a, v) => a + v, 0), 0, 0, 0]);
      });
  }
  // rows [1, 3, 0, 1] and [3, 2, 2, 2]: ties that are not at a window's first position
  for (const [name, attrs, at] of [
    // windows (1, 3, 3, 2) → position 1 and (0, 1, 2, 2) → position 6
    ["tiling 2x2 windows", { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }, [1, 6]],
    // windows (1, 3) (0, 1) (3, 2) (2, 2) → positions 1, 3, 4, 6 (the one-hot Conv stack)
    ["tiling 1x2 windows", { kernel_shape: ints([1, 2]), strides: ints([1, 2]) }, [1, 3, 4, 6]],
  ] as const) {
    for (const opset of [17, 18])
      it(`${name}, opset ${opset}: each window's gradient goes to the first of its tied maxima only`, async () => {
        const { dY, grads } = await pooled(name, opset, attrs, [1, 1, 2, 4], [1, 3, 0, 1, 3, 2, 2, 2]);
        const expected = new Array(8).fill(0);
        at.forEach((p, i) => {
          expected[p] = dY[i];
        });
        expect(grads[0]).toEqual(expected);
      });
  }
});

describe("convolution and tiled max-pool gradients at opset 18", () => {
  for (const c of AT_18) {
    it(`${c.name}: the same gradients as the ConvTranspose form at opset 17`, async () => {
      // the same name draws the same point and upstream gradient
      const at17 = await gradientsAt({ ...c, opset: 17 });
      const at18 = await gradientsAt(c);
      expect(at18.dY).toEqual(at17.dY);
      expect(at18.grads.length).toBe(at17.grads.length);
      at17.grads.forEach((g, i) => {
        const scale = Math.max(...g.map(Math.abs));
        expect(scale).toBeGreaterThan(0);
        const worst = Math.max(...g.map((v, j) => Math.abs(v - at18.grads[i][j])));
        expect(worst / scale).toBeLessThan(1e-5);
      });
    });
  }
});
