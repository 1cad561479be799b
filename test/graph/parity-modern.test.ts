// Parity with PyTorch 1.13 on the modern-family fixtures in test/fixtures/torch-modern (README there):
// LayerNorm + exact GELU, an int64-token attention classifier, a GRU (unrolled by the compiler) and a
// dilated 1-D CNN with SiLU, HardSwish and amax. Each trains 20 steps on PyTorch's batches; then the
// exported inference model (the original ops: LayerNormalization, GRU, 1-D Conv run natively by
// onnxruntime) predicts what the eval graph (the compiler's expansions) predicts.
import { describe, expect, it } from "vitest";
import { main as parityMain, readFixture, runParity, trainFixture } from "../../scripts/commands/parity.ts";
import { compile } from "../../src/graph/compile.ts";
import { decodeModel, encodeModel } from "../../src/graph/onnx.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";

const FIX = "test/fixtures/torch-modern";
const MODELS = ["mlp_layernorm_gelu", "token_classifier", "gru_classifier", "conv1d_text"];

describe("modern model families train with PyTorch's numbers", () => {
  for (const name of MODELS) {
    it(`${name}: all 20 losses within 1e-4 of PyTorch's and identical accuracies`, async () => {
      const r = await runParity(`${FIX}/${name}`);
      expect(r.steps).toBe(20);
      expect(r.maxAbsLossDiff).toBeLessThan(1e-4);
      expect(r.accuracyMismatches).toBe(0);
    });
  }

  it("the token classifier's input is int64 token ids through the train, eval and exported graphs", () => {
    const f = readFixture(`${FIX}/token_classifier`);
    expect(f.inputDtype).toBe("int64");
    expect(f.x).toBeInstanceOf(BigInt64Array);
    const c = compile(f.model, { optimizer: f.optimizer });
    expect(c.input).toEqual({ name: "input", shape: [12], dtype: "int64" });
    for (const g of [c.trainLoop, c.trainStep, c.evalStep])
      expect(decodeModel(g).graph.inputs.find((v) => v.name === "x")?.dtype).toBe("int64");
  });
});

describe("the exported forward model with trained weights reproduces the eval graph's logits", () => {
  for (const name of MODELS) {
    it(`${name}: onnxruntime on the export and the eval graph agree within 1e-5 after 5 steps`, async () => {
      const f = { ...readFixture(`${FIX}/${name}`), steps: 5 };
      const c = compile(f.model, { optimizer: f.optimizer, dropout: false });
      const trace = await trainFixture(f, c, "loop");
      const per = f.inputShape.reduce((a, b) => a * b, 1) * f.batch;
      const x: HostTensor = { dims: [f.batch, ...f.inputShape], data: f.x.subarray(6 * per, 7 * per) };
      const feeds: Record<string, HostTensor> = {
        x,
        y: { dims: [f.batch], data: f.y.subarray(6 * f.batch, 7 * f.batch) },
      };
      for (const t of c.tensors)
        if (t.role !== "optimizer") feeds[t.name] = { dims: t.shape, data: trace.state[t.name] };
      const evalS = await createSession(c.evalStep);
      const exported = c.exportInference(trace.state);
      const inf = await createSession(exported);
      const a = (await inf.run({ [c.input.name]: x })).logits.data as Float32Array;
      const ref = (await evalS.run(feeds)).logits.data as Float32Array;
      expect(a.length).toBe(f.batch * f.classes);
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - ref[i]));
      expect(maxDiff).toBeLessThan(1e-5);
      // the export keeps the model's own ops (GRU stays a GRU node) and carries the trained weights
      const ops = new Set(decodeModel(exported).graph.nodes.map((n) => n.op));
      const original = new Set(decodeModel(f.model).graph.nodes.map((n) => n.op));
      expect(ops).toEqual(original);
      const before = (await (await createSession(f.model)).run({ [c.input.name]: x })).logits
        .data as Float32Array;
      expect(Math.abs(before[0] - a[0])).toBeGreaterThan(1e-6);
      await Promise.all([evalS.release(), inf.release()]);
    });
  }
});

describe("sequence lengths", () => {
  it("a GRU model exported with a dynamic sequence axis is refused, naming the input, the dimension and what is accepted", () => {
    const f = readFixture(`${FIX}/gru_classifier`);
    const m = decodeModel(f.model);
    m.graph.inputs[0].shape = ["batch", "seq", 6];
    expect(() => compile(encodeModel(m), { optimizer: f.optimizer })).toThrow(
      /the model input "input" has a dynamic dimension 1 \("seq"\) in \[batch,seq,6\]: only the batch dimension \(0\) may be dynamic; export with a fixed size there/,
    );
  });

  it("a GRU whose time axis is the batch axis (layout mismatch) is refused by the expansion, naming input and dimension", () => {
    const f = readFixture(`${FIX}/gru_classifier`);
    const m = decodeModel(f.model);
    // feed the GRU the batch-first tensor directly: its time axis (0) is then the symbolic batch
    const gru = m.graph.nodes.find((n) => n.op === "GRU");
    if (!gru) throw new Error("fixture has no GRU");
    gru.inputs[0] = "input";
    expect(() => compile(encodeModel(m), { optimizer: f.optimizer })).toThrow(
      /GRU node "\/rnn\/GRU": input "input" has a dynamic sequence length \(dimension 0 is "N"\); the GRU is unrolled over the steps, so it accepts a static sequence length only/,
    );
  });
});

describe("gradstream parity on a model with unsupported ops", () => {
  it("names every unsupported op with its node, prints a failing JSON line and returns 1", async () => {
    const f = readFixture(`${FIX}/mlp_layernorm_gelu`);
    const m = decodeModel(f.model);
    for (const n of m.graph.nodes) {
      if (n.op === "Erf") n.op = "Einsum";
      if (n.op === "LayerNormalization") n.op = "GroupNormalization";
    }
    const { mkdtempSync, copyFileSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "parity-unsupported-"));
    const prefix = join(dir, "mlp_bad");
    writeFileSync(`${prefix}.onnx`, encodeModel(m));
    copyFileSync(`${FIX}/mlp_layernorm_gelu.json`, `${prefix}.json`);
    copyFileSync(`${FIX}/mlp_layernorm_gelu.data.bin`, `${prefix}.data.bin`);
    const out: string[] = [];
    const err: string[] = [];
    const log = console.log;
    const error = console.error;
    console.log = (s: string) => out.push(s);
    console.error = (s: string) => err.push(s);
    let code: number;
    try {
      code = await parityMain([prefix]);
    } finally {
      console.log = log;
      console.error = error;
    }
    expect(code).toBe(1);
    expect(err.join("\n")).toMatch(
      /unsupported ops GroupNormalization \(node "\/ln\/LayerNormalization"\); Einsum \(node "\/Erf"\); supported ops: /,
    );
    expect(err.join("\n")).not.toMatch(/\n\s+at /);
    expect(JSON.parse(out[out.length - 1])).toMatchObject({
      model: "mlp_layernorm_gelu",
      pass: false,
      steps: 0,
    });
  });
});
