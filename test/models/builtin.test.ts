import { readFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { buildModel, MODELS_DIR, readModelSpecs, validateModelSpec } from "../../scripts/build-models.ts";
import { iterateBatches } from "../../src/train/data/batches.ts";
import { checkInputShape, loadDataset } from "../../src/train/data/load.ts";
import { DATASETS } from "../../src/train/data/spec.ts";
import { BUILTIN_MODEL_NAMES } from "../helpers/fixtures.ts";

const specs = readModelSpecs();
const file = (name: string) => join(MODELS_DIR, `${name}.onnx`);
const decode = (name: string) => onnxProto.onnx.ModelProto.decode(readFileSync(file(name)));

function floats(t: onnxProto.onnx.ITensorProto): Float32Array {
  const raw = t.rawData ?? new Uint8Array(0);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Float32Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(4 * i, true));
}

describe("built-in models", () => {
  it("has the models of the experiments and the modern twins", () => {
    expect(specs.map((s) => s.name)).toEqual(BUILTIN_MODEL_NAMES);
  });

  it("commits .onnx files that match their specs byte for byte (run scripts/build-models.ts after editing a spec)", () => {
    for (const spec of specs) {
      expect(Buffer.compare(readFileSync(file(spec.name)), Buffer.from(buildModel(spec))), spec.name).toBe(0);
    }
  });

  it("loads in onnxruntime with a dynamic batch input and gives [B, classes] logits ([B, T, classes] for the language model)", async () => {
    for (const spec of specs) {
      const session = await ort.InferenceSession.create(file(spec.name));
      expect(session.inputNames).toEqual(["input"]);
      expect(session.outputNames).toEqual(["logits"]);
      const meta = session.inputMetadata[0];
      expect(meta.isTensor && meta.shape).toEqual(["batch", ...spec.input]);
      for (const b of [1, 3]) {
        const n = spec.input.reduce((a, c) => a * c, 1);
        // a model that starts with an embedding reads int64 token ids and predicts every position
        const tokens = spec.layers[0].type === "embedding";
        const x = tokens
          ? new ort.Tensor(
              "int64",
              BigInt64Array.from({ length: b * n }, (_, i) => BigInt(i % spec.classes)),
              [b, ...spec.input],
            )
          : new ort.Tensor(
              "float32",
              Float32Array.from({ length: b * n }, (_, i) => Math.sin(i)),
              [b, ...spec.input],
            );
        const out = await session.run({ input: x });
        expect(out.logits.dims).toEqual(tokens ? [b, spec.input[0], spec.classes] : [b, spec.classes]);
        expect(Array.from(out.logits.data as Float32Array).every(Number.isFinite)).toBe(true);
      }
      await session.release();
    }
  });

  it("mirrors the structure of PyTorch's export of the reference CNN", () => {
    // From torch.onnx.export of seed_cnn (PyTorch 1.13, opset 17, training mode).
    const m = decode("cnn");
    expect(m.opsetImport.map((o) => Number(o.version))).toEqual([17]);
    expect(m.graph?.node?.map((n) => n.opType)).toEqual([
      "Conv",
      "Relu",
      "MaxPool",
      "Conv",
      "Relu",
      "MaxPool",
      "Constant",
      "Reshape",
      "Gemm",
      "Relu",
      "Constant",
      "Constant",
      "Dropout",
      "Gemm",
    ]);
    expect(m.graph?.initializer?.map((t) => `${t.name}:${t.dims?.join("x")}`)).toEqual([
      "conv1.weight:16x3x3x3",
      "conv1.bias:16",
      "conv2.weight:32x16x3x3",
      "conv2.bias:32",
      "fc1.weight:128x2048",
      "fc1.bias:128",
      "fc2.weight:10x128",
      "fc2.bias:10",
    ]);
    const lin = decode("linear");
    expect(lin.graph?.node?.map((n) => [n.opType, n.input?.join(","), n.output?.join(",")])).toEqual([
      ["Gemm", "input,fc.weight,fc.bias", "logits"],
    ]);
    expect(Number(lin.graph?.node?.[0].attribute?.find((a) => a.name === "transB")?.i)).toBe(1);
  });

  it("initializes weights and biases uniformly within ±1/√fan_in like PyTorch", () => {
    const m = decode("cnn");
    const byName = new Map((m.graph?.initializer ?? []).map((t) => [t.name, t]));
    for (const [name, fanIn] of [
      ["conv1.weight", 27],
      ["conv1.bias", 27],
      ["fc1.weight", 2048],
      ["fc2.bias", 128],
    ] as const) {
      const t = byName.get(name);
      if (!t) throw new Error(`missing ${name}`);
      const v = floats(t);
      const bound = 1 / Math.sqrt(fanIn);
      expect(
        v.reduce((m, x) => Math.max(m, Math.abs(x)), 0),
        name,
      ).toBeLessThanOrEqual(bound);
    }
    // U(±b) has standard deviation b/√3: check on the 262,144 weights of fc1.
    const w = floats(byName.get("fc1.weight") ?? {});
    const sd = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(sd / (1 / Math.sqrt(2048) / Math.sqrt(3))).toBeCloseTo(1, 2);
  });

  it("accepts the experiment datasets' batches", async () => {
    const data = loadDataset(DATASETS["cnn-dropout"]);
    const session = await ort.InferenceSession.create(file("cnn"));
    const meta = session.inputMetadata[0];
    checkInputShape(data.shape, meta.isTensor ? meta.shape : []);
    const batch = iterateBatches(data.train, { batchSize: 32, epochs: 1, seed: 0, startStep: 31 }).next()
      .value;
    if (!batch) throw new Error("no batch");
    const out = await session.run({ input: new ort.Tensor("float32", batch.x, [batch.size, ...data.shape]) });
    expect(out.logits.dims).toEqual([8, 10]);
    expect(() =>
      checkInputShape(
        DATASETS.linear.kind === "synthetic" ? DATASETS.linear.shape : [],
        meta.isTensor ? meta.shape : [],
      ),
    ).toThrow(/expects \[3, 32, 32\] per sample/);
    await session.release();
  });

  it("rejects specs whose layers do not fit together", () => {
    const base = { name: "bad", description: "", input: [1, 4, 4], classes: 2, seed: 0 };
    expect(() =>
      buildModel(validateModelSpec({ ...base, layers: [{ type: "linear", name: "fc", out: 2 }] })),
    ).toThrow("model spec bad layers[0]: linear needs a flat input, got [1, 4, 4]: add a flatten layer");
    expect(() =>
      buildModel(
        validateModelSpec({ ...base, layers: [{ type: "flatten" }, { type: "linear", name: "fc", out: 3 }] }),
      ),
    ).toThrow("model spec bad: the last layer produces [3] per sample, but classes is 2");
    expect(() => validateModelSpec({ ...base, layers: [{ type: "gelu" }] })).toThrow(
      /type must be one of linear, conv/,
    );
  });
});
