// The compiled graphs as a whole: eval and export agree with training, bad models fail clearly,
// dropout masks depend only on (seed, step, node), and the graph structure is pinned by golden dumps.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readFixture, trainFixture } from "../../scripts/commands/parity.ts";
import { emitForward } from "../../src/graph/autodiff.ts";
import { compile } from "../../src/graph/compile.ts";
import { Builder, type Model } from "../../src/graph/ir.ts";
import { encodeModel } from "../../src/graph/onnx.ts";
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
    expect(() => compile(withOp("Erf"), { optimizer: { kind: "sgd" } })).toThrow(
      /unsupported op Erf \(node "mystery"\); supported ops: Add, .*Gemm/,
    );
  });

  it("bytes that are not a model are rejected as such", () => {
    expect(() => compile(new Uint8Array([1, 2, 3, 4, 5]), { optimizer: { kind: "sgd" } })).toThrow(
      /not a valid ONNX model/,
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
