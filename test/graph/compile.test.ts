// The compiled graphs as a whole: eval and export agree with training, bad models fail clearly,
// dropout masks depend only on (seed, step, node), and the graph structure is pinned by golden dumps.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readFixture, trainFixture } from "../../scripts/commands/parity.ts";
import { emitForward } from "../../src/graph/autodiff.ts";
import { compile } from "../../src/graph/compile.ts";
import { Builder, type Graph, type Model, type Node } from "../../src/graph/ir.ts";
import { decodeModel, encodeModel } from "../../src/graph/onnx.ts";
import { compileProbe } from "../../src/graph/probe.ts";
import { BUILTIN_MODELS, builtinModelBytes } from "../../src/train/catalog.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";
import { linearModel, randomProblem } from "./linear-ref.ts";

const FIX = "test/fixtures/torch";

function batchFeeds(f: ReturnType<typeof readFixture>, step: number): Record<string, HostTensor> {
  const per = f.inputShape.reduce((a, b) => a * b, 1) * f.batch;
  return {
    x: { dims: [f.batch, ...f.inputShape], data: f.x.subarray(step * per, (step + 1) * per) },
    y: { dims: [f.batch], data: f.y.subarray(step * f.batch, (step + 1) * f.batch) },
  };
}

describe("the eval graph and the exported inference model", () => {
  it("evaluating the untrained CNN on the first batch gives PyTorch's first training loss and accuracy", async () => {
    const f = readFixture(`${FIX}/seed_cnn`);
    const c = compile(f.model, { optimizer: f.optimizer });
    const s = await createSession(c.evalStep);
    const feeds = batchFeeds(f, 0);
    for (const t of c.tensors) if (t.role !== "optimizer") feeds[t.name] = { dims: t.shape, data: t.init };
    const out = await s.run(feeds);
    expect(Math.abs(Number(out.loss.data[0]) - f.losses[0])).toBeLessThan(1e-5);
    expect(Number(out.accuracy.data[0])).toBeCloseTo(f.accuracies[0], 6);
    expect(out.logits.dims).toEqual([32, 10]);
    const conf = Number(out.confidence.data[0]);
    const trueProb = Number(out.true_prob.data[0]);
    expect(conf).toBeGreaterThan(0.1);
    expect(conf).toBeLessThan(1);
    expect(trueProb).toBeLessThanOrEqual(conf);
    await s.release();
  });

  it("the exported model with trained weights predicts the eval graph's logits, with Dropout made an Identity", async () => {
    const f = { ...readFixture(`${FIX}/seed_cnn`), steps: 3 };
    const c = compile(f.model, { optimizer: f.optimizer, dropout: false });
    const trace = await trainFixture(f, c, "loop");
    const exported = c.exportInference(trace.state);
    const infer = await createSession(exported);
    const evalS = await createSession(c.evalStep);
    const feeds = batchFeeds(f, 5);
    const inf = await infer.run({ input: feeds.x });
    for (const t of c.tensors)
      if (t.role !== "optimizer") feeds[t.name] = { dims: t.shape, data: trace.state[t.name] };
    const ev = await evalS.run(feeds);
    const a = inf.logits.data as Float32Array;
    const b = ev.logits.data as Float32Array;
    expect(a.length).toBe(320);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(1e-6);
    // the trained weights, not the initial ones, are in the exported file
    const initial = await createSession(f.model);
    const before = (await initial.run({ input: feeds.x })).logits.data as Float32Array;
    expect(Math.abs(before[0] - a[0])).toBeGreaterThan(1e-6);
    await Promise.all([infer.release(), evalS.release(), initial.release()]);
  });
});

describe("invalid models fail compilation with a clear message", () => {
  const w = randomProblem(1, 1);
  const withOp = (op: string): Uint8Array => {
    const m: Model = {
      irVersion: 8,
      opsets: [{ domain: "", version: 17 }],
      producer: "test",
      graph: {
        name: "bad",
        inputs: [{ name: "input", dtype: "float32", shape: ["batch", 4] }],
        outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 3] }],
        initializers: [
          { name: "W", dtype: "float32", dims: [3, 4], data: Float32Array.from(w.w) },
          { name: "b", dtype: "float32", dims: [3], data: Float32Array.from(w.b) },
        ],
        nodes: [
          { op, name: "mystery", domain: "", inputs: ["input"], outputs: ["h"], attrs: {} },
          {
            op: "Gemm",
            name: "fc",
            domain: "",
            inputs: ["h", "W", "b"],
            outputs: ["logits"],
            attrs: { transB: { type: "int", i: 1 } },
          },
        ],
      },
    };
    return encodeModel(m);
  };

  it("an unsupported op names the op, the node and the supported ops", () => {
    expect(() => compile(withOp("Einsum"), { optimizer: { kind: "sgd" } })).toThrow(
      /unsupported op Einsum \(node "mystery"\); supported ops: Abs, .*Gemm/,
    );
  });

  it("bytes that are not a model are rejected as such", () => {
    expect(() => compile(new Uint8Array([1, 2, 3, 4, 5]), { optimizer: { kind: "sgd" } })).toThrow(
      /not a valid ONNX model/,
    );
  });

  it("an unknown loss names the accepted losses", () => {
    const bad = "hinge" as unknown as "mse";
    expect(() => compile(linearModel(w.w, w.b), { optimizer: { kind: "sgd" }, loss: bad })).toThrow(
      /unknown loss hinge \(accepted: cross_entropy, mse, bce_with_logits\)/,
    );
  });

  it("an unknown optimizer kind names the accepted kinds", () => {
    const bad = { kind: "lion" } as unknown as { kind: "sgd" };
    expect(() => compile(linearModel(w.w, w.b), { optimizer: bad })).toThrow(
      /accepted: sgd, adam, adamw, rmsprop/,
    );
  });
});

describe("dropout masks", () => {
  it("drop about the requested fraction and scale kept values by 1/(1 − p)", async () => {
    const b = new Builder(17, ["x", "step", "y", "mask", "ratio"]);
    b.addInitializer({ name: "ratio", dtype: "float32", dims: [], data: Float32Array.of(0.3) });
    const node = {
      op: "Dropout",
      name: "d",
      domain: "",
      inputs: ["x", "ratio"],
      outputs: ["y", "mask"],
      attrs: {},
    };
    const metas = new Map([
      ["x", { dtype: "float32" as const, shape: [4000] }],
      ["ratio", { dtype: "float32" as const, shape: [], value: [0.3] }],
    ]);
    emitForward(b, [node], metas, { mode: "train", dropout: true, step: "step", seed: 7, rename: new Map() });
    const m: Model = {
      irVersion: 8,
      opsets: [{ domain: "", version: 17 }],
      producer: "test",
      graph: {
        name: "d",
        nodes: b.nodes,
        initializers: b.initializers,
        inputs: [
          { name: "x", dtype: "float32", shape: [4000] },
          { name: "step", dtype: "int64", shape: [] },
        ],
        outputs: [{ name: "y", dtype: "float32", shape: [4000] }],
      },
    };
    const s = await createSession(encodeModel(m));
    const run = async (step: number) =>
      (
        await s.run({
          x: { dims: [4000], data: new Float32Array(4000).fill(1) },
          step: { dims: [], data: BigInt64Array.of(BigInt(step)) },
        })
      ).y.data as Float32Array;
    const y0 = await run(0);
    const y0again = await run(0);
    const y1 = await run(1);
    const dropped = y0.filter((v) => v === 0).length / y0.length;
    expect(dropped).toBeGreaterThan(0.27);
    expect(dropped).toBeLessThan(0.33);
    expect(new Set(Array.from(y0))).toEqual(new Set([0, Math.fround(1 / 0.7)]));
    expect(Array.from(y0again)).toEqual(Array.from(y0));
    const same = y0.filter((v, i) => v === y1[i]).length / y0.length;
    expect(same).toBeLessThan(0.7);
    await s.release();
  });

  it("a resumed Loop sees the masks an uninterrupted run saw (masks depend on the global step, not on K)", async () => {
    const f = { ...readFixture(`${FIX}/seed_cnn`), steps: 4 };
    const c = compile(f.model, { optimizer: f.optimizer, dropout: true, seed: 3 });
    const whole = await trainFixture(f, c, "loop", 4);
    const chunked = await trainFixture(f, c, "loop", 3);
    const single = await trainFixture(f, c, "step");
    for (let i = 0; i < 4; i++) {
      expect(Math.abs(whole.losses[i] - chunked.losses[i])).toBeLessThan(1e-6);
      expect(Math.abs(whole.losses[i] - single.losses[i])).toBeLessThan(1e-6);
    }
    const off = await trainFixture(f, compile(f.model, { optimizer: f.optimizer, dropout: false }), "loop");
    expect(Math.abs(off.losses[1] - whole.losses[1])).toBeGreaterThan(1e-4);
  });
});

describe("golden dumps pin the compiled graphs' structure", () => {
  const cases = [
    ["seed_linear", { kind: "sgd" as const }],
    ["seed_cnn", { kind: "adam" as const }],
  ] as const;
  for (const [name, optimizer] of cases) {
    for (const which of ["trainStep", "trainLoop", "evalStep"] as const) {
      it(`${name} ${which} matches test/golden/${name}.${which}.txt`, async () => {
        const c = compile(new Uint8Array(readFileSync(`${FIX}/${name}.onnx`)), { optimizer });
        await expect(`${c.dump(which)}\n`).toMatchFileSnapshot(`../golden/${name}.${which}.txt`);
      });
    }
  }
});

describe("BatchNormalization state", () => {
  // x[N,3] → BatchNormalization(training_mode=1, momentum 0.9 = PyTorch's 0.1) → Gemm → logits[N,2]
  const N = 6;
  const r = randomProblem(5, N);
  const x = Array.from({ length: N * 3 }, (_, i) => Math.fround(Math.sin(i * 1.7) * 2 + (i % 3)));
  const model: Model = {
    irVersion: 8,
    opsets: [{ domain: "", version: 17 }],
    producer: "test",
    graph: {
      name: "bn",
      inputs: [{ name: "input", dtype: "float32", shape: ["batch", 3] }],
      outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 2] }],
      initializers: [
        { name: "bn.weight", dtype: "float32", dims: [3], data: Float32Array.of(1, 0.5, 2) },
        { name: "bn.bias", dtype: "float32", dims: [3], data: Float32Array.of(0, 0.1, -0.1) },
        { name: "bn.running_mean", dtype: "float32", dims: [3], data: Float32Array.of(0.5, 0, 0) },
        { name: "bn.running_var", dtype: "float32", dims: [3], data: Float32Array.of(1, 2, 1) },
        { name: "fc.weight", dtype: "float32", dims: [2, 3], data: Float32Array.from(r.w.slice(0, 6)) },
        { name: "fc.bias", dtype: "float32", dims: [2], data: Float32Array.of(0, 0) },
      ],
      nodes: [
        {
          op: "BatchNormalization",
          name: "bn",
          domain: "",
          inputs: ["input", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"],
          outputs: ["h", "rm_out", "rv_out"],
          attrs: {
            epsilon: { type: "float", f: 1e-5 },
            momentum: { type: "float", f: 0.9 },
            training_mode: { type: "int", i: 1 },
          },
        },
        {
          op: "Gemm",
          name: "fc",
          domain: "",
          inputs: ["h", "fc.weight", "fc.bias"],
          outputs: ["logits"],
          attrs: { transB: { type: "int", i: 1 } },
        },
      ],
    },
  };
  const bytes = encodeModel(model);

  it("a training step updates the running mean with the batch mean and the running variance with the unbiased batch variance", async () => {
    const c = compile(bytes, { optimizer: { kind: "sgd" } });
    expect(c.tensors.filter((t) => t.role === "bn_running").map((t) => t.name)).toEqual([
      "bn.running_mean",
      "bn.running_var",
    ]);
    expect(c.tensors.filter((t) => t.role === "param").map((t) => t.name)).toEqual([
      "bn.weight",
      "bn.bias",
      "fc.weight",
      "fc.bias",
    ]);
    const s = await createSession(c.trainStep);
    const feeds: Record<string, HostTensor> = {
      x: { dims: [N, 3], data: Float32Array.from(x) },
      y: { dims: [N], data: BigInt64Array.from(r.y.map((v) => BigInt(v % 2))) },
      lr: { dims: [], data: Float32Array.of(0.1) },
      step: { dims: [], data: BigInt64Array.of(0n) },
    };
    for (const t of c.tensors) feeds[t.name] = { dims: t.shape, data: t.init };
    const out = await s.run(feeds);
    const rm = out["bn.running_mean.next"].data as Float32Array;
    const rv = out["bn.running_var.next"].data as Float32Array;
    const init = [Float32Array.of(0.5, 0, 0), Float32Array.of(1, 2, 1)];
    for (let ch = 0; ch < 3; ch++) {
      const col = Array.from({ length: N }, (_, n) => x[n * 3 + ch]);
      const mean = col.reduce((a, v) => a + v, 0) / N;
      const varU = col.reduce((a, v) => a + (v - mean) ** 2, 0) / (N - 1);
      expect(rm[ch]).toBeCloseTo(0.9 * init[0][ch] + 0.1 * mean, 5);
      expect(rv[ch]).toBeCloseTo(0.9 * init[1][ch] + 0.1 * varU, 5);
    }
    await s.release();
  });

  it("a batch of one sample keeps the running variance finite (its biased variance, 0, is used)", async () => {
    const c = compile(bytes, { optimizer: { kind: "sgd" } });
    const s = await createSession(c.trainStep);
    const feeds: Record<string, HostTensor> = {
      x: { dims: [1, 3], data: Float32Array.of(1, 2, 3) },
      y: { dims: [1], data: BigInt64Array.of(1n) },
      lr: { dims: [], data: Float32Array.of(0.1) },
      step: { dims: [], data: BigInt64Array.of(0n) },
    };
    for (const t of c.tensors) feeds[t.name] = { dims: t.shape, data: t.init };
    const out = await s.run(feeds);
    const rv = Array.from(out["bn.running_var.next"].data as Float32Array);
    const rm = Array.from(out["bn.running_mean.next"].data as Float32Array);
    for (const [i, v] of [0.9, 1.8, 0.9].entries()) expect(rv[i]).toBeCloseTo(v, 6);
    for (const [i, v] of [0.55, 0.2, 0.3].entries()) expect(rm[i]).toBeCloseTo(v, 6);
    await s.release();
  });

  it("the eval graph and the exported model normalise with the running statistics", async () => {
    const c = compile(bytes, { optimizer: { kind: "sgd" } });
    const state = Object.fromEntries(c.tensors.map((t) => [t.name, t.init]));
    const evalS = await createSession(c.evalStep);
    const feeds: Record<string, HostTensor> = {
      x: { dims: [N, 3], data: Float32Array.from(x) },
      y: { dims: [N], data: new BigInt64Array(N) },
    };
    for (const t of c.tensors) if (t.role !== "optimizer") feeds[t.name] = { dims: t.shape, data: t.init };
    const ev = (await evalS.run(feeds)).logits.data as Float32Array;
    const inf = await createSession(c.exportInference(state));
    const ex = (await inf.run({ input: feeds.x })).logits.data as Float32Array;
    const g = [1, 0.5, 2];
    const beta = [0, 0.1, -0.1];
    const rm = [0.5, 0, 0];
    const rv = [1, 2, 1];
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < 2; k++) {
        let z = 0;
        for (let ch = 0; ch < 3; ch++) {
          const h = ((x[n * 3 + ch] - rm[ch]) / Math.sqrt(rv[ch] + 1e-5)) * g[ch] + beta[ch];
          z += h * r.w[k * 3 + ch];
        }
        expect(ev[n * 2 + k]).toBeCloseTo(z, 5);
        expect(ex[n * 2 + k]).toBeCloseTo(z, 5);
      }
    }
    await Promise.all([evalS.release(), inf.release()]);
  });
});

describe("models whose weights are graph inputs", () => {
  const model: Model = {
    irVersion: 8,
    opsets: [{ domain: "", version: 17 }],
    producer: "test",
    graph: {
      name: "noinit",
      inputs: [
        { name: "input", dtype: "float32", shape: ["batch", 16] },
        { name: "W", dtype: "float32", shape: [4, 16] },
        { name: "b", dtype: "float32", shape: [4] },
      ],
      outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 4] }],
      initializers: [],
      nodes: [
        {
          op: "Gemm",
          name: "fc",
          domain: "",
          inputs: ["input", "W", "b"],
          outputs: ["logits"],
          attrs: { transB: { type: "int", i: 1 } },
        },
      ],
    },
  };
  const bytes = encodeModel(model);

  it("get PyTorch's default U(−1/√fan_in, 1/√fan_in) initialization, drawn from the seed", async () => {
    const a = compile(bytes, { optimizer: { kind: "sgd" }, seed: 1 });
    const again = compile(bytes, { optimizer: { kind: "sgd" }, seed: 1 });
    const other = compile(bytes, { optimizer: { kind: "sgd" }, seed: 2 });
    const w = a.tensors.find((t) => t.name === "W")?.init as Float32Array;
    expect(w).toHaveLength(64);
    expect(Math.max(...Array.from(w, Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...Array.from(w, Math.abs))).toBeGreaterThan(0.15);
    expect(Array.from(again.tensors[0].init)).toEqual(Array.from(w));
    expect(Array.from(other.tensors[0].init)).not.toEqual(Array.from(w));
    const exported = await createSession(
      a.exportInference(Object.fromEntries(a.tensors.map((t) => [t.name, t.init]))),
    );
    expect(exported.inputNames).toEqual(["input"]);
    await exported.release();
  });
});

describe("opset range", () => {
  for (const opset of [13, 18, 21]) {
    it(`the seed CNN declared as opset ${opset} trains to the same first losses`, async () => {
      const f = { ...readFixture(`${FIX}/seed_cnn`), steps: 2 };
      const m = decodeModel(f.model);
      m.opsets = [{ domain: "", version: opset }];
      const c = compile(encodeModel(m), { optimizer: f.optimizer, dropout: false });
      const trace = await trainFixture(f, c, "loop");
      expect(Math.abs(trace.losses[0] - f.losses[0])).toBeLessThan(1e-4);
      expect(Math.abs(trace.losses[1] - f.losses[1])).toBeLessThan(1e-4);
    });
  }

  it("rejects opsets outside 13–21 naming the accepted range", () => {
    const f = readFixture(`${FIX}/seed_linear`);
    const m = decodeModel(f.model);
    m.opsets = [{ domain: "", version: 11 }];
    expect(() => compile(encodeModel(m), { optimizer: f.optimizer })).toThrow(
      /unsupported opset 11: models with opset 13 to 21/,
    );
  });
});

describe("Shape-only subgraphs that feed a Reshape", () => {
  // x.view(x.size(0), -1) as exporters write it, versus Flatten: both must train identically
  const w = Float32Array.from({ length: 3 * 6 }, (_, i) => Math.sin(i) * 0.3);
  const build = (viaShape: boolean): Uint8Array => {
    const i64 = (name: string, values: number[], dims: number[]) => ({
      name,
      dtype: "int64" as const,
      dims,
      data: BigInt64Array.from(values.map(BigInt)),
    });
    const flatten: Node[] = viaShape
      ? [
          { op: "Shape", name: "shape", domain: "", inputs: ["input"], outputs: ["s"], attrs: {} },
          {
            op: "Gather",
            name: "batch",
            domain: "",
            inputs: ["s", "zero"],
            outputs: ["n"],
            attrs: { axis: { type: "int" as const, i: 0 } },
          },
          { op: "Unsqueeze", name: "unsq", domain: "", inputs: ["n", "axes0"], outputs: ["n1"], attrs: {} },
          {
            op: "Concat",
            name: "cat",
            domain: "",
            inputs: ["n1", "minus1"],
            outputs: ["target"],
            attrs: { axis: { type: "int" as const, i: 0 } },
          },
          {
            op: "Reshape",
            name: "view",
            domain: "",
            inputs: ["input", "target"],
            outputs: ["flat"],
            attrs: {},
          },
        ]
      : [{ op: "Flatten", name: "flatten", domain: "", inputs: ["input"], outputs: ["flat"], attrs: {} }];
    const m: Model = {
      irVersion: 8,
      opsets: [{ domain: "", version: 17 }],
      producer: "test",
      graph: {
        name: "view",
        inputs: [{ name: "input", dtype: "float32", shape: ["batch", 2, 3] }],
        outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 3] }],
        initializers: [
          { name: "W", dtype: "float32", dims: [3, 6], data: w },
          { name: "b", dtype: "float32", dims: [3], data: new Float32Array(3) },
          i64("zero", [0], []),
          i64("axes0", [0], [1]),
          i64("minus1", [-1], [1]),
        ],
        nodes: [
          ...flatten,
          {
            op: "Gemm",
            name: "fc",
            domain: "",
            inputs: ["flat", "W", "b"],
            outputs: ["logits"],
            attrs: { transB: { type: "int", i: 1 } },
          },
        ],
      },
    };
    return encodeModel(m);
  };

  it("resolve to the same shapes and train to the same losses as Flatten", async () => {
    const losses: number[][] = [];
    for (const viaShape of [true, false]) {
      const c = compile(build(viaShape), { optimizer: { kind: "sgd", momentum: 0.9 } });
      expect(c.tensors.map((t) => t.name)).toEqual(["W", "b", "W.momentum_buffer", "b.momentum_buffer"]);
      const s = await createSession(c.trainLoop);
      const feeds: Record<string, HostTensor> = {
        x: { dims: [3, 4, 2, 3], data: Float32Array.from({ length: 72 }, (_, i) => Math.cos(i % 24)) },
        y: { dims: [3, 4], data: BigInt64Array.from({ length: 12 }, (_, i) => BigInt((i % 4) % 3)) },
        lr: { dims: [3], data: Float32Array.of(0.1, 0.1, 0.1) },
        step: { dims: [3], data: BigInt64Array.of(0n, 1n, 2n) },
      };
      for (const [h, v] of Object.entries(c.hyperparameters))
        feeds[h] = { dims: [], data: Float32Array.of(v) };
      for (const t of c.tensors) feeds[t.name] = { dims: t.shape, data: t.init };
      losses.push(Array.from((await s.run(feeds)).loss.data as Float32Array));
      await s.release();
    }
    expect(losses[0]).toHaveLength(3);
    expect(losses[0]).toEqual(losses[1]);
    expect(losses[0][2]).toBeLessThan(losses[0][0]);
  });
});

describe("model bytes in a Node Buffer", () => {
  it("decodes the same tensors from a Buffer that is a view at an odd offset into a larger one", () => {
    const bytes = new Uint8Array(readFileSync("models/linear.onnx"));
    // readFileSync pools small files: their Buffer is a view into a shared 8 KB ArrayBuffer. Build
    // such a view on purpose, at an offset no typed array could start at.
    const pool = Buffer.alloc(bytes.length + 1003, 7);
    pool.set(bytes, 1001);
    const view = pool.subarray(1001, 1001 + bytes.length);
    const plain = decodeModel(bytes);
    const viewed = decodeModel(view);
    expect(viewed.graph.initializers.map((t) => [t.name, Array.from(t.data as Float32Array)])).toEqual(
      plain.graph.initializers.map((t) => [t.name, Array.from(t.data as Float32Array)]),
    );
    expect(compile(view, { optimizer: { kind: "sgd" } }).parameterCount).toBe(
      compile(bytes, { optimizer: { kind: "sgd" } }).parameterCount,
    );
  });
});

describe("images larger than the im2col index table", () => {
  it("compiles a conv on 4096×4096 images without building a table per output position", async () => {
    const { poolModel } = await import("../server/hostile-models.ts");
    // A 1×1 conv on 4096×4096: the Gather form's table would hold 16.8M int64 entries (134 MB);
    // past the limit the weight gradient takes the per-tap Slices, and the graph stays small.
    const c = compile(poolModel(4096, 4096), { optimizer: { kind: "sgd" } });
    expect(c.input.shape).toEqual([3, 4096, 4096]);
    expect(c.trainStep.byteLength).toBeLessThan(1_000_000);
  });
});

/** Nodes no output depends on and initializers nothing reads, in a graph and the graphs nested in it. */
function unread(g: Graph, path = g.name): string[] {
  const reads = new Set(g.outputs.map((o) => o.name));
  const readAll = (h: Graph) => {
    for (const n of h.nodes) {
      for (const v of n.inputs) reads.add(v);
      for (const a of Object.values(n.attrs)) if (a.type === "graph") readAll(a.g);
    }
  };
  readAll(g);
  const found = [
    ...g.nodes.filter((n) => !n.outputs.some((o) => o && reads.has(o))).map((n) => `${path}: node ${n.name}`),
    ...g.initializers.filter((t) => !reads.has(t.name)).map((t) => `${path}: initializer ${t.name}`),
  ];
  for (const n of g.nodes)
    for (const a of Object.values(n.attrs))
      if (a.type === "graph") found.push(...unread(a.g, `${path}/${a.g.name}`));
  return found;
}

describe("compiled graphs hold only what their outputs read (onnxruntime runs every node it is given)", () => {
  for (const name of BUILTIN_MODELS) {
    it(`${name}: the training Loop, the single step, evaluation and the noise probe`, () => {
      const bytes = builtinModelBytes(name);
      const c = compile(bytes, { optimizer: { kind: "adam" } });
      for (const g of [c.trainLoop, c.trainStep, c.evalStep, compileProbe(bytes).graph])
        expect(unread(decodeModel(g).graph)).toEqual([]);
    });
  }
});
