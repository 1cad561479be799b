// Finite-difference gradient checking of single ops through the real compiler pieces (shape rules,
// forward emitter, reverse driver) and the real onnxruntime. For a case, L(x) = Σ Y ⊙ R with a fixed
// random R; the analytic directional derivative Σᵢ ⟨∂L/∂xᵢ, vᵢ⟩ along a random direction v is
// compared with the central difference (L(x + εv) − L(x − εv)) / 2ε.
import { backward, emitForward } from "../../src/graph/autodiff.ts";
import { inferShapes } from "../../src/graph/infer.ts";
import {
  type Attr,
  Builder,
  type DType,
  type Graph,
  type Model,
  type Node,
  numel,
  type Tensor,
} from "../../src/graph/ir.ts";
import { encodeModel } from "../../src/graph/onnx.ts";
import { mulberry32 } from "../../src/train/data/prng.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";

export interface GradInput {
  shape: number[];
  /** Fixed contents: makes the input a constant (int64 for shapes/axes unless `dtype` says float). */
  values?: number[];
  dtype?: DType;
  /** How to draw a differentiable input: "any" (default, uniform ±1), "offzero" (|x| ≥ 0.1), "positive". */
  draw?: "any" | "offzero" | "positive" | "distinct";
  /** Fixed starting point for a differentiable input (instead of a random draw). */
  at?: number[];
}

export interface GradCase {
  name: string;
  op: string;
  attrs?: Record<string, Attr>;
  inputs: GradInput[];
  /** Number of node outputs (only the first is checked). */
  outputs?: number;
  /** float64 where ORT's CPU kernels have double versions (default), else float32. */
  dtype?: "float32" | "float64";
  /** Relative tolerance on the directional derivative. */
  tol?: number;
  /** Run the op with dropout active (its mask then depends on a fixed step, so differences are valid). */
  dropout?: boolean;
  /** A known gap: the case is run as expected-to-fail with this reason. */
  fails?: string;
  /** The opset the single-op model declares (default 17; Gelu needs 20). */
  opset?: number;
}

/** Seeded uniform [0, 1) draws for gradient-check inputs (mulberry32). */
export const rng = mulberry32;

function draw(r: () => number, n: number, how: GradInput["draw"]): number[] {
  if (how === "distinct") {
    // distinct values spaced ≥ 0.05 apart (no ties for max-pooling), shuffled
    const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [v[i], v[j]] = [v[j], v[i]];
    }
    return v;
  }
  return Array.from({ length: n }, () => {
    const u = r() * 2 - 1;
    if (how === "offzero") return Math.sign(u || 1) * (0.1 + Math.abs(u) * 0.9);
    if (how === "positive") return 0.5 + r();
    return u;
  });
}

function floatArray(dtype: "float32" | "float64", v: number[]): Float32Array | Float64Array {
  return dtype === "float64" ? Float64Array.from(v) : Float32Array.from(v);
}

export interface GradResult {
  analytic: number;
  numeric: number;
  relErr: number;
}

export async function gradCheck(c: GradCase): Promise<GradResult> {
  return (await evaluate(c)).check;
}

/** The upstream gradient R (= dL/dY) and every differentiable input's gradient at the starting point. */
export async function gradientsAt(c: GradCase): Promise<{ dY: number[]; grads: number[][] }> {
  const e = await evaluate(c);
  return { dY: e.dY, grads: e.grads };
}

async function evaluate(c: GradCase): Promise<{ check: GradResult; dY: number[]; grads: number[][] }> {
  const dtype = c.dtype ?? "float64";
  const r = rng(c.name.length * 7919 + c.name.charCodeAt(0));
  const graph: Graph = { name: c.name, nodes: [], inputs: [], outputs: [], initializers: [] };
  const diffNames: string[] = [];
  const x0: Record<string, number[]> = {};
  const names = c.inputs.map((inp, i) => {
    const name = `in${i}`;
    if (inp.values) {
      const dt = inp.dtype ?? "int64";
      const data =
        dt === "int64"
          ? BigInt64Array.from(inp.values.map((v) => BigInt(v)))
          : dt === "bool"
            ? Uint8Array.from(inp.values)
            : floatArray(dt === "float32" ? "float32" : "float64", inp.values);
      graph.initializers.push({ name, dtype: dt, dims: inp.shape, data } as Tensor);
    } else {
      graph.inputs.push({ name, dtype, shape: inp.shape });
      diffNames.push(name);
      x0[name] = inp.at ?? draw(r, numel(inp.shape), inp.draw);
    }
    return name;
  });
  const nOut = c.outputs ?? 1;
  const node: Node = {
    op: c.op,
    name: c.op,
    domain: "",
    inputs: names,
    outputs: Array.from({ length: nOut }, (_, i) => `y${i}`),
    attrs: c.attrs ?? {},
  };
  graph.nodes.push(node);
  const opset = c.opset ?? 17;
  const metas = inferShapes(graph, opset);
  const yShape = metas.get("y0")?.shape as number[];
  const b = new Builder(opset, [...names, ...node.outputs]);
  for (const t of graph.initializers) b.addInitializer(t);
  let step: string | null = null;
  if (c.dropout) {
    step = "step";
    b.addInitializer({ name: step, dtype: "int64", dims: [], data: BigInt64Array.of(5n) });
  }
  const fwd = emitForward(b, graph.nodes, metas, {
    mode: "train",
    dropout: c.dropout ?? false,
    step,
    seed: 1,
    rename: new Map(),
  });
  const rValues = draw(r, numel(yShape), "any");
  const R = b.fconst(dtype, rValues, yShape);
  const L = b.reduceSum(b.op("Mul", ["y0", R]), null, false, "L");
  const grads = backward(b, fwd, new Map([["y0", R]]), diffNames, dtype);
  const gradOutputs = diffNames.map((n) => {
    const g = grads.get(n) as string;
    return b.op("Identity", [g], {}, `${n}_grad_out`);
  });
  const model: Model = {
    irVersion: 8,
    opsets: [{ domain: "", version: opset }],
    producer: "gradcheck",
    graph: {
      name: c.name,
      nodes: b.nodes,
      inputs: graph.inputs,
      outputs: [L, ...gradOutputs].map((name) => ({ name, dtype, shape: null })),
      initializers: b.initializers,
    },
  };
  const session = await createSession(encodeModel(model));
  const feedAt = (t: number, v: Record<string, number[]>): Record<string, HostTensor> => {
    const feeds: Record<string, HostTensor> = {};
    for (const [i, inp] of c.inputs.entries()) {
      const n = names[i];
      if (inp.values) continue;
      feeds[n] = {
        dims: inp.shape,
        data: floatArray(
          dtype,
          x0[n].map((x, k) => x + t * v[n][k]),
        ),
      };
    }
    return feeds;
  };
  const dir: Record<string, number[]> = {};
  for (const n of diffNames) dir[n] = draw(r, x0[n].length, "any");
  const base = await session.run(feedAt(0, dir));
  let analytic = 0;
  diffNames.forEach((n, i) => {
    const g = base[gradOutputs[i]].data as Float64Array;
    for (let k = 0; k < g.length; k++) analytic += g[k] * dir[n][k];
  });
  const eps = dtype === "float64" ? 1e-6 : 1e-2;
  const plus = Number((await session.run(feedAt(eps, dir)))[L].data[0]);
  const minus = Number((await session.run(feedAt(-eps, dir)))[L].data[0]);
  await session.release();
  const numeric = (plus - minus) / (2 * eps);
  const relErr = Math.abs(analytic - numeric) / Math.max(1e-8, Math.abs(analytic) + Math.abs(numeric));
  return {
    check: { analytic, numeric, relErr },
    dY: rValues.map((v) => (dtype === "float32" ? Math.fround(v) : v)),
    grads: gradOutputs.map((o) => Array.from(base[o].data as Float64Array, Number)),
  };
}
