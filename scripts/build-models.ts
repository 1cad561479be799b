// Builds the built-in forward models (models/<name>.onnx) from their declarative specs
// (models/<name>.json): `tsx scripts/build-models.ts [--check]`. --check rebuilds in memory and exits 1
// when a committed .onnx differs from its spec.
//
// The graphs look like torch.onnx.export(TrainingMode.TRAINING, opset 17) output, so the compiler sees
// the same patterns as in user uploads: Gemm with transB=1 for Linear, Conv/MaxPool with every
// attribute spelled out, Reshape to [-1, features] for flatten, Dropout fed ratio and training_mode
// constants, input `input` with a dynamic `batch` dim and output `logits`.
//
// Initialization is PyTorch's default for Linear and Conv2d: kaiming_uniform_(w, a=√5), i.e.
// w ~ U(±gain·√(3/fan_in)) with gain = √(2/(1+a²)) = √(1/3), which is U(±1/√fan_in); and
// b ~ U(±1/√fan_in). Values come from the seeded mulberry32 stream deriveSeed(spec.seed, "init", name),
// weights then bias, in row-major order, so the files are byte-identical on every machine.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";
import { deriveSeed, Rng } from "../src/train/data/prng.ts";

const onnx = onnxProto.onnx;
const AT = onnx.AttributeProto.AttributeType;
const DT = onnx.TensorProto.DataType;

export type LayerSpec =
  | { type: "linear"; name: string; out: number }
  | { type: "conv"; name: string; out: number; kernel: number; padding?: number; stride?: number }
  | { type: "relu" }
  | { type: "maxpool"; kernel: number; stride?: number }
  | { type: "flatten" }
  | { type: "dropout"; name?: string; p: number }
  /** int64 token ids [T] → vectors [T, dim] plus learned positions (the model input becomes int64). */
  | { type: "embedding"; name: string; vocab: number; dim: number }
  /** A pre-norm causal self-attention block on [T, D]: x + attn(LN(x)), then + MLP(LN(·)) with GELU. */
  | { type: "transformer"; name: string; heads: number }
  /** LayerNorm over the last axis. */
  | { type: "layernorm"; name: string }
  /** A batch-first GRU over [T, F] (ONNX GRU, torch's gate layout): its last hidden state [hidden]. */
  | { type: "gru"; name: string; hidden: number };

export interface ModelSpec {
  name: string;
  description: string;
  /** Sample shape without the batch dim, e.g. [10] or [3, 32, 32]. */
  input: number[];
  classes: number;
  seed: number;
  layers: LayerSpec[];
}

function fail(where: string, msg: string): never {
  throw new Error(`model spec ${where}: ${msg}`);
}

function posInt(v: unknown, where: string, field: string, min = 1): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min)
    fail(where, `${field} must be an integer ≥ ${min}, got ${String(v)}`);
  return v;
}

export function validateModelSpec(input: unknown, file = "(inline)"): ModelSpec {
  if (typeof input !== "object" || input === null) fail(file, "must be an object");
  const o = input as Record<string, unknown>;
  if (typeof o.name !== "string" || !/^[a-z0-9-]+$/.test(o.name))
    fail(file, `name must match [a-z0-9-]+, got ${String(o.name)}`);
  if (!Array.isArray(o.input) || o.input.length < 1) fail(file, "input must be a non-empty array of dims");
  for (let i = 0; i < o.input.length; i++) posInt(o.input[i], file, `input[${i}]`);
  posInt(o.classes, file, "classes", 2);
  if (typeof o.seed !== "number" || !Number.isSafeInteger(o.seed)) fail(file, "seed must be an integer");
  if (!Array.isArray(o.layers) || o.layers.length === 0) fail(file, "layers must be a non-empty array");
  const types = [
    "linear",
    "conv",
    "relu",
    "maxpool",
    "flatten",
    "dropout",
    "embedding",
    "transformer",
    "layernorm",
    "gru",
  ];
  o.layers.forEach((l: unknown, i: number) => {
    const where = `${file} layers[${i}]`;
    if (typeof l !== "object" || l === null || !("type" in l) || !types.includes(String(l.type))) {
      fail(where, `type must be one of ${types.join(", ")}`);
    }
    const r = l as Record<string, unknown>;
    if (["linear", "conv", "embedding", "transformer", "layernorm", "gru"].includes(String(r.type))) {
      if (typeof r.name !== "string" || r.name === "") fail(where, "a parameterized layer needs a name");
    }
    if (r.type === "linear" || r.type === "conv") posInt(r.out, where, "out");
    if (r.type === "embedding") {
      posInt(r.vocab, where, "vocab");
      posInt(r.dim, where, "dim");
      if (i !== 0) fail(where, "embedding must be the first layer (it reads the int64 input)");
    }
    if (r.type === "transformer") posInt(r.heads, where, "heads");
    if (r.type === "gru") posInt(r.hidden, where, "hidden");
    if (r.type === "conv" || r.type === "maxpool") posInt(r.kernel, where, "kernel");
    if (r.type === "dropout" && (typeof r.p !== "number" || !(r.p >= 0 && r.p < 1)))
      fail(where, "p must be in [0, 1)");
  });
  return {
    name: o.name,
    description: typeof o.description === "string" ? o.description : "",
    input: o.input as number[],
    classes: o.classes as number,
    seed: o.seed,
    layers: o.layers as LayerSpec[],
  };
}

function floatTensor(name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return { name, dims, dataType: DT.FLOAT, rawData: raw };
}

function int64Tensor(dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => {
    view.setBigInt64(8 * i, BigInt(v), true);
  });
  return { dims, dataType: DT.INT64, rawData: raw };
}

const ints = (name: string, v: number[]) => ({ name, type: AT.INTS, ints: v });
const int = (name: string, v: number) => ({ name, type: AT.INT, i: v });
const float = (name: string, v: number) => ({ name, type: AT.FLOAT, f: v });

/** U(±1/√fan_in) for weight then bias (PyTorch's default Linear/Conv2d init, see the header). */
function initParams(seed: number, layer: string, weightCount: number, biasCount: number, fanIn: number) {
  const rng = new Rng(deriveSeed(seed, "init", layer));
  const bound = 1 / Math.sqrt(fanIn);
  const draw = (n: number) => Float32Array.from({ length: n }, () => (2 * rng.uniform() - 1) * bound);
  return { weight: draw(weightCount), bias: draw(biasCount) };
}

/** Encodes a model spec as an ONNX ModelProto. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const inits: onnxProto.onnx.ITensorProto[] = [];
  const counters = new Map<string, number>();
  // torch names unscoped nodes /Relu, /Relu_1, …
  const unique = (base: string) => {
    const n = counters.get(base) ?? 0;
    counters.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  };
  let shape = [...spec.input];
  let current = "input";
  let inputType: number = DT.FLOAT;
  const where = (i: number) => `${spec.name} layers[${i}]`;
  spec.layers.forEach((layer, i) => {
    const last = i === spec.layers.length - 1;
    const emit = (
      name: string,
      opType: string,
      inputs: string[],
      attribute: onnxProto.onnx.IAttributeProto[],
      extraOutputs = 0,
    ) => {
      const out = last ? "logits" : `${name}_output_0`;
      const outputs = [out, ...Array.from({ length: extraOutputs }, (_, k) => `${name}_output_${k + 1}`)];
      nodes.push({ name, opType, input: inputs, output: outputs, attribute });
      current = out;
    };
    switch (layer.type) {
      case "linear": {
        if (shape.length === 2) {
          // per position, as torch exports Linear on 3-D input: MatMul(x, Wᵀ) + b
          const fanIn = shape[1];
          const p = initParams(spec.seed, layer.name, layer.out * fanIn, layer.out, fanIn);
          const wt = new Float32Array(fanIn * layer.out);
          for (let o = 0; o < layer.out; o++)
            for (let k = 0; k < fanIn; k++) wt[k * layer.out + o] = p.weight[o * fanIn + k];
          inits.push(floatTensor(`${layer.name}.weight_t`, [fanIn, layer.out], wt));
          inits.push(floatTensor(`${layer.name}.bias`, [layer.out], p.bias));
          const mm = `/${layer.name}/MatMul`;
          nodes.push({
            name: mm,
            opType: "MatMul",
            input: [current, `${layer.name}.weight_t`],
            output: [`${mm}_output_0`],
            attribute: [],
          });
          emit(`/${layer.name}/Add`, "Add", [`${mm}_output_0`, `${layer.name}.bias`], []);
          shape = [shape[0], layer.out];
          break;
        }
        if (shape.length !== 1)
          fail(where(i), `linear needs a flat input, got [${shape.join(", ")}]: add a flatten layer`);
        const fanIn = shape[0];
        const p = initParams(spec.seed, layer.name, layer.out * fanIn, layer.out, fanIn);
        inits.push(floatTensor(`${layer.name}.weight`, [layer.out, fanIn], p.weight));
        inits.push(floatTensor(`${layer.name}.bias`, [layer.out], p.bias));
        emit(
          `/${layer.name}/Gemm`,
          "Gemm",
          [current, `${layer.name}.weight`, `${layer.name}.bias`],
          [float("alpha", 1), float("beta", 1), int("transB", 1)],
        );
        shape = [layer.out];
        break;
      }
      case "conv": {
        if (shape.length !== 3) fail(where(i), `conv needs a [C, H, W] input, got [${shape.join(", ")}]`);
        const [c, h, w] = shape;
        const k = layer.kernel;
        const pad = layer.padding ?? 0;
        const s = layer.stride ?? 1;
        const fanIn = c * k * k;
        const p = initParams(spec.seed, layer.name, layer.out * fanIn, layer.out, fanIn);
        inits.push(floatTensor(`${layer.name}.weight`, [layer.out, c, k, k], p.weight));
        inits.push(floatTensor(`${layer.name}.bias`, [layer.out], p.bias));
        emit(
          `/${layer.name}/Conv`,
          "Conv",
          [current, `${layer.name}.weight`, `${layer.name}.bias`],
          [
            ints("dilations", [1, 1]),
            int("group", 1),
            ints("kernel_shape", [k, k]),
            ints("pads", [pad, pad, pad, pad]),
            ints("strides", [s, s]),
          ],
        );
        const o = (x: number) => Math.floor((x + 2 * pad - k) / s) + 1;
        shape = [layer.out, o(h), o(w)];
        if (shape[1] < 1 || shape[2] < 1)
          fail(where(i), `conv output would be empty for input [${c}, ${h}, ${w}]`);
        break;
      }
      case "relu":
        emit(unique("/Relu"), "Relu", [current], []);
        break;
      case "maxpool": {
        if (shape.length !== 3) fail(where(i), `maxpool needs a [C, H, W] input, got [${shape.join(", ")}]`);
        const k = layer.kernel;
        const s = layer.stride ?? k;
        emit(
          unique("/MaxPool"),
          "MaxPool",
          [current],
          [
            int("ceil_mode", 0),
            ints("kernel_shape", [k, k]),
            ints("pads", [0, 0, 0, 0]),
            ints("strides", [s, s]),
          ],
        );
        const o = (x: number) => Math.floor((x - k) / s) + 1;
        shape = [shape[0], o(shape[1]), o(shape[2])];
        break;
      }
      case "flatten": {
        const features = shape.reduce((a, b) => a * b, 1);
        const constName = unique("/Constant");
        nodes.push({
          name: constName,
          opType: "Constant",
          input: [],
          output: [`${constName}_output_0`],
          attribute: [{ name: "value", type: AT.TENSOR, t: int64Tensor([2], [-1, features]) }],
        });
        emit(unique("/Reshape"), "Reshape", [current, `${constName}_output_0`], [int("allowzero", 0)]);
        shape = [features];
        break;
      }
      case "embedding": {
        if (shape.length !== 1) fail(where(i), `embedding needs token ids [T], got [${shape.join(", ")}]`);
        const T = shape[0];
        // torch: nn.Embedding ~ N(0, 1); learned positions ~ N(0, 0.02²) here (a GPT-style choice)
        const rng = new Rng(deriveSeed(spec.seed, "init", layer.name));
        inits.push(
          floatTensor(
            `${layer.name}.weight`,
            [layer.vocab, layer.dim],
            Float32Array.from({ length: layer.vocab * layer.dim }, () => rng.gaussian()),
          ),
        );
        inits.push(
          floatTensor(
            `${layer.name}.pos`,
            [1, T, layer.dim],
            Float32Array.from({ length: T * layer.dim }, () => 0.02 * rng.gaussian()),
          ),
        );
        const g = `/${layer.name}/Gather`;
        nodes.push({
          name: g,
          opType: "Gather",
          input: [`${layer.name}.weight`, current],
          output: [`${g}_output_0`],
          attribute: [],
        });
        emit(`/${layer.name}/Add`, "Add", [`${g}_output_0`, `${layer.name}.pos`], []);
        shape = [T, layer.dim];
        inputType = DT.INT64;
        break;
      }
      case "layernorm": {
        if (shape.length < 1) fail(where(i), "layernorm needs an input");
        const d = shape[shape.length - 1];
        inits.push(floatTensor(`${layer.name}.weight`, [d], new Float32Array(d).fill(1)));
        inits.push(floatTensor(`${layer.name}.bias`, [d], new Float32Array(d)));
        emit(
          `/${layer.name}/LayerNormalization`,
          "LayerNormalization",
          [current, `${layer.name}.weight`, `${layer.name}.bias`],
          [int("axis", -1), float("epsilon", 1e-5)],
        );
        break;
      }
      case "transformer": {
        if (shape.length !== 2) fail(where(i), `transformer needs [T, D], got [${shape.join(", ")}]`);
        const [T, D] = shape;
        if (D % layer.heads !== 0) fail(where(i), `dim ${D} is not divisible by heads ${layer.heads}`);
        current = transformerBlock(nodes, inits, spec.seed, layer.name, current, T, D, layer.heads);
        if (last) fail(where(i), "a transformer block cannot be the last layer (end with linear)");
        break;
      }
      case "gru": {
        if (shape.length !== 2) fail(where(i), `gru needs [T, features], got [${shape.join(", ")}]`);
        const [, F] = shape;
        const H = layer.hidden;
        // torch's init: every GRU weight and bias ~ U(±1/√hidden)
        const p = initParams(spec.seed, layer.name, 3 * H * (F + H), 6 * H, H);
        const n = `/${layer.name}`;
        inits.push(floatTensor(`${layer.name}.W`, [1, 3 * H, F], p.weight.subarray(0, 3 * H * F)));
        inits.push(floatTensor(`${layer.name}.R`, [1, 3 * H, H], p.weight.subarray(3 * H * F)));
        inits.push(floatTensor(`${layer.name}.B`, [1, 6 * H], p.bias));
        nodes.push({
          name: `${n}/Transpose`,
          opType: "Transpose",
          input: [current],
          output: [`${n}/Transpose_output_0`],
          attribute: [ints("perm", [1, 0, 2])],
        });
        nodes.push({
          name: `${n}/GRU`,
          opType: "GRU",
          input: [`${n}/Transpose_output_0`, `${layer.name}.W`, `${layer.name}.R`, `${layer.name}.B`],
          output: [`${n}/GRU_output_0`, `${n}/GRU_output_1`],
          attribute: [int("hidden_size", H), int("linear_before_reset", 1)],
        });
        const axes = `${n}/Constant`;
        nodes.push({
          name: axes,
          opType: "Constant",
          input: [],
          output: [`${axes}_output_0`],
          attribute: [{ name: "value", type: AT.TENSOR, t: int64Tensor([1], [0]) }],
        });
        emit(`${n}/Squeeze`, "Squeeze", [`${n}/GRU_output_1`, `${axes}_output_0`], []);
        shape = [H];
        break;
      }
      case "dropout": {
        const scope = `/${layer.name ?? "dropout"}`;
        const ratio = `${scope}/Constant`;
        const mode = `${scope}/Constant_1`;
        const ratioBytes = new Uint8Array(4);
        new DataView(ratioBytes.buffer).setFloat32(0, layer.p, true);
        nodes.push({
          name: ratio,
          opType: "Constant",
          input: [],
          output: [`${ratio}_output_0`],
          attribute: [{ name: "value", type: AT.TENSOR, t: { dataType: DT.FLOAT, rawData: ratioBytes } }],
        });
        nodes.push({
          name: mode,
          opType: "Constant",
          input: [],
          output: [`${mode}_output_0`],
          attribute: [
            { name: "value", type: AT.TENSOR, t: { dataType: DT.BOOL, rawData: Uint8Array.from([1]) } },
          ],
        });
        emit(`${scope}/Dropout`, "Dropout", [current, `${ratio}_output_0`, `${mode}_output_0`], [], 1);
        break;
      }
    }
  });
  if (shape[shape.length - 1] !== spec.classes || shape.length > 2) {
    fail(
      spec.name,
      `the last layer produces [${shape.join(", ")}] per sample, but classes is ${spec.classes}`,
    );
  }
  if (current !== "logits") fail(spec.name, "the last layer must produce the logits (end with linear)");
  const valueInfo = (name: string, dims: number[], elemType: number = DT.FLOAT) => ({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: [{ dimParam: "batch" }, ...dims.map((d) => ({ dimValue: d }))] },
      },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: "gradstream",
    producerVersion: "build-models",
    docString: spec.description,
    opsetImport: [{ domain: "", version: 17 }],
    metadataProps: [
      { key: "gradstream.model", value: spec.name },
      { key: "gradstream.classes", value: String(spec.classes) },
    ],
    graph: {
      name: spec.name,
      node: nodes,
      initializer: inits,
      input: [valueInfo("input", spec.input, inputType)],
      output: [valueInfo("logits", shape)],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A pre-norm causal self-attention block as torch exports one (LayerNorm, a fused qkv Linear, Split,
 * heads by Reshape/Transpose, scaled scores with an additive causal mask, Softmax, a GELU MLP):
 *   h = x + proj(softmax(q·kᵀ/√d + mask)·v);  out = h + W₂·gelu(W₁·LN₂(h))
 * Returns the output value's name.
 */
function transformerBlock(
  nodes: onnxProto.onnx.INodeProto[],
  inits: onnxProto.onnx.ITensorProto[],
  seed: number,
  name: string,
  x: string,
  T: number,
  D: number,
  heads: number,
): string {
  const dh = D / heads;
  const s = `/${name}`;
  let k = 0;
  const node = (op: string, inputs: string[], attribute: onnxProto.onnx.IAttributeProto[] = []) => {
    const n = `${s}/${op}_${k++}`;
    nodes.push({ name: n, opType: op, input: inputs, output: [`${n}_output_0`], attribute });
    return `${n}_output_0`;
  };
  const constant = (t: onnxProto.onnx.ITensorProto) =>
    node("Constant", [], [{ name: "value", type: AT.TENSOR, t }]);
  const f32 = (dims: number[], v: number[]) => floatTensor("", dims, Float32Array.from(v));
  const ln = (sub: string, v: string) => {
    inits.push(floatTensor(`${name}.${sub}.weight`, [D], new Float32Array(D).fill(1)));
    inits.push(floatTensor(`${name}.${sub}.bias`, [D], new Float32Array(D)));
    return node(
      "LayerNormalization",
      [v, `${name}.${sub}.weight`, `${name}.${sub}.bias`],
      [int("axis", -1), float("epsilon", 1e-5)],
    );
  };
  const linear = (sub: string, v: string, inF: number, outF: number) => {
    const p = initParams(seed, `${name}.${sub}`, inF * outF, outF, inF);
    const wt = new Float32Array(inF * outF);
    for (let o = 0; o < outF; o++) for (let q = 0; q < inF; q++) wt[q * outF + o] = p.weight[o * inF + q];
    inits.push(floatTensor(`${name}.${sub}.weight_t`, [inF, outF], wt));
    inits.push(floatTensor(`${name}.${sub}.bias`, [outF], p.bias));
    return node("Add", [node("MatMul", [v, `${name}.${sub}.weight_t`]), `${name}.${sub}.bias`]);
  };
  const qkv = linear("qkv", ln("ln1", x), D, 3 * D);
  const n = `${s}/Split`;
  nodes.push({
    name: n,
    opType: "Split",
    input: [qkv, constant(int64Tensor([3], [D, D, D]))],
    output: [0, 1, 2].map((i) => `${n}_output_${i}`),
    attribute: [int("axis", 2)],
  });
  const headShape = constant(int64Tensor([4], [0, T, heads, dh]));
  const [q, kk, v] = [0, 1, 2].map((i) => node("Reshape", [`${n}_output_${i}`, headShape]));
  const qh = node("Transpose", [q], [ints("perm", [0, 2, 1, 3])]);
  const kt = node("Transpose", [kk], [ints("perm", [0, 2, 3, 1])]);
  const vh = node("Transpose", [v], [ints("perm", [0, 2, 1, 3])]);
  const scores = node("Div", [node("MatMul", [qh, kt]), constant(f32([], [Math.sqrt(dh)]))]);
  // causal: position t attends to positions ≤ t (−1e9 elsewhere, so softmax gives them 0)
  const mask = Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0));
  const att = node("Softmax", [node("Add", [scores, constant(f32([T, T], mask))])], [int("axis", -1)]);
  const ctx = node("Reshape", [
    node("Transpose", [node("MatMul", [att, vh])], [ints("perm", [0, 2, 1, 3])]),
    constant(int64Tensor([3], [0, T, D])),
  ]);
  const h = node("Add", [x, linear("proj", ctx, D, D)]);
  const u = linear("ff1", ln("ln2", h), D, 4 * D);
  // exact GELU as torch exports it: u · ½(1 + erf(u/√2))
  const erf = node("Erf", [node("Div", [u, constant(f32([], [Math.SQRT2]))])]);
  const gelu = node("Mul", [
    node("Mul", [u, node("Add", [erf, constant(f32([], [1]))])]),
    constant(f32([], [0.5])),
  ]);
  return node("Add", [h, linear("ff2", gelu, 4 * D, D)]);
}

export const MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "models");

/** Every models/*.json spec, sorted by name. */
export function readModelSpecs(dir = MODELS_DIR): ModelSpec[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => validateModelSpec(JSON.parse(readFileSync(join(dir, f), "utf8")), f));
}

function main(args: string[]): number {
  const check = args.includes("--check");
  let drift = 0;
  for (const spec of readModelSpecs()) {
    const bytes = buildModel(spec);
    const file = join(MODELS_DIR, `${spec.name}.onnx`);
    if (check) {
      let old: Uint8Array | null = null;
      try {
        old = readFileSync(file);
      } catch {
        old = null;
      }
      const same = old !== null && Buffer.compare(Buffer.from(old), Buffer.from(bytes)) === 0;
      if (!same) drift++;
      console.log(`${same ? "ok     " : "DIFFERS"} ${file}`);
    } else {
      writeFileSync(file, bytes);
      console.log(`wrote ${file} (${bytes.length} bytes)`);
    }
  }
  return drift ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  process.exitCode = main(process.argv.slice(2));
