// A conv whose output only a tiled MaxPool reads takes its weight and bias gradients from the pool's
// window layout (no interleave back to the image). Checked against the same model with a Mul by 1
// between them, which keeps the math but makes the conv see an ordinary spatial gradient.
import { describe, expect, it } from "vitest";
import { compile } from "../../src/graph/compile.ts";
import { ints, type Model, type Node } from "../../src/graph/ir.ts";
import { encodeModel } from "../../src/graph/onnx.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";

const N = 4;
const [C, H, W, O] = [2, 6, 8, 3];

function model(pool: [number, number], throughMul: boolean): Uint8Array {
  const [ho, wo] = [H / pool[0], W / pool[1]];
  const nodes: Node[] = [
    {
      op: "Conv",
      name: "conv",
      domain: "",
      inputs: ["input", "conv.weight", "conv.bias"],
      outputs: ["c"],
      attrs: { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) },
    },
    ...(throughMul
      ? [{ op: "Mul", name: "one", domain: "", inputs: ["c", "one"], outputs: ["c1"], attrs: {} }]
      : []),
    {
      op: "MaxPool",
      name: "pool",
      domain: "",
      inputs: [throughMul ? "c1" : "c"],
      outputs: ["p"],
      attrs: { kernel_shape: ints(pool), strides: ints(pool) },
    },
    { op: "Flatten", name: "flat", domain: "", inputs: ["p"], outputs: ["f"], attrs: {} },
    {
      op: "Gemm",
      name: "fc",
      domain: "",
      inputs: ["f", "fc.weight", "fc.bias"],
      outputs: ["logits"],
      attrs: { transB: { type: "int", i: 1 } },
    },
  ];
  const wave = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) * 0.3);
  const m: Model = {
    irVersion: 8,
    opsets: [{ domain: "", version: 17 }],
    producer: "test",
    graph: {
      name: "conv_pool",
      inputs: [{ name: "input", dtype: "float32", shape: ["batch", C, H, W] }],
      outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 4] }],
      initializers: [
        { name: "conv.weight", dtype: "float32", dims: [O, C, 3, 3], data: wave(O * C * 9, 1.3) },
        { name: "conv.bias", dtype: "float32", dims: [O], data: Float32Array.of(0.1, -0.2, 0.05) },
        { name: "fc.weight", dtype: "float32", dims: [4, O * ho * wo], data: wave(4 * O * ho * wo, 0.7) },
        { name: "fc.bias", dtype: "float32", dims: [4], data: new Float32Array(4) },
        { name: "one", dtype: "float32", dims: [], data: Float32Array.of(1) },
      ],
      nodes,
    },
  };
  return encodeModel(m);
}

/** One SGD step at lr 1 on images whose lower halves are zero: the conv's output there is its bias,
 * so whole windows tie and the first-maximum rule decides where their gradient goes. */
async function step(bytes: Uint8Array) {
  const c = compile(bytes, { optimizer: { kind: "sgd" } });
  const s = await createSession(c.trainStep);
  const x = Float32Array.from({ length: N * C * H * W }, (_, i) =>
    Math.floor(i / W) % H >= H / 2 ? 0 : Math.cos(i * 0.91),
  );
  const feeds: Record<string, HostTensor> = {
    x: { dims: [N, C, H, W], data: x },
    y: { dims: [N], data: BigInt64Array.of(0n, 3n, 1n, 2n) },
    lr: { dims: [], data: Float32Array.of(1) },
    step: { dims: [], data: BigInt64Array.of(0n) },
  };
  for (const t of c.tensors) feeds[t.name] = { dims: t.shape, data: t.init };
  const out = await s.run(feeds);
  await s.release();
  const delta = (name: string) => {
    const init = c.tensors.find((t) => t.name === name)?.init as Float32Array;
    const next = out[`${name}.next`].data as Float32Array;
    return Array.from(next, (v, i) => init[i] - v);
  };
  return { dump: c.dump("trainStep"), dW: delta("conv.weight"), dB: delta("conv.bias") };
}

describe("conv gradients from a tiled pool's window layout", () => {
  for (const pool of [
    [2, 2],
    [3, 2],
  ] as [number, number][]) {
    it(`${pool[0]}×${pool[1]} windows: the same weight and bias gradients as through the image, with no interleave left`, async () => {
      const windowed = await step(model(pool, false));
      const spatial = await step(model(pool, true));
      // the first conv's input needs no gradient, so nothing reads the interleaved image gradient (the
      // pool's Col2Im; a ConvTranspose before opset 18)
      expect(windowed.dump).not.toMatch(/Col2Im|ConvTranspose/);
      expect(spatial.dump).toMatch(/Col2Im/);
      expect(windowed.dB.some((v) => Math.abs(v) > 1e-4)).toBe(true);
      for (const [a, b] of [
        [windowed.dW, spatial.dW],
        [windowed.dB, spatial.dB],
      ]) {
        expect(a.length).toBe(b.length);
        for (let i = 0; i < a.length; i++)
          expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-6 + 1e-5 * Math.abs(b[i]));
      }
    });
  }
});
