// gradstream parity <prefix> [--tol 1e-4] [--form loop|step] [--k N]
// Trains <prefix>.onnx on the batches in <prefix>.data.bin with the optimizer <prefix>.json names
// (dropout off), and compares every step's loss and accuracy with the PyTorch reference in the JSON.
// The fixture format is documented in test/fixtures/torch-modern/README.md.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import {
  type CompiledModel,
  compile,
  type InputDType,
  type LossKind,
  type OptimizerSpec,
} from "../../src/graph/compile.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";

export interface Fixture {
  name: string;
  model: Uint8Array;
  inputShape: number[];
  classes: number;
  batch: number;
  steps: number;
  optimizer: OptimizerSpec;
  lr: number;
  inputDtype: InputDType;
  /** Labels per sample: [] for one class per sample, [T] for one per position. */
  labelShape: number[];
  loss: LossKind;
  x: Float32Array | BigInt64Array;
  y: BigInt64Array;
  losses: number[];
  accuracies: number[];
  /** Eval-mode loss on the first batch after training (depends on BatchNorm running statistics). */
  evalLoss?: number;
}

interface FixtureJson {
  name?: string;
  inputShape: number[];
  inputDtype?: string;
  labelShape?: number[];
  loss?: string;
  classes: number;
  batch: number;
  steps: number;
  optimizer: string;
  lr: number;
  betas?: [number, number];
  eps?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  alpha?: number;
  centered?: boolean;
  weightDecay?: number;
  losses: number[];
  accuracies: number[];
  evalLoss?: number;
}

/** Maps the fixture's optimizer description onto an OptimizerSpec. */
export function optimizerFromJson(j: FixtureJson): OptimizerSpec {
  const weightDecay = j.weightDecay ?? 0;
  switch (j.optimizer) {
    case "sgd":
    case "sgd_momentum":
      return {
        kind: "sgd",
        momentum: j.momentum ?? 0,
        dampening: j.dampening ?? 0,
        nesterov: j.nesterov ?? false,
        weightDecay,
      };
    case "adam":
    case "adamw":
      return { kind: j.optimizer, beta1: j.betas?.[0], beta2: j.betas?.[1], eps: j.eps, weightDecay };
    case "rmsprop":
      return {
        kind: "rmsprop",
        alpha: j.alpha,
        eps: j.eps,
        momentum: j.momentum ?? 0,
        centered: j.centered ?? false,
        weightDecay,
      };
    default:
      throw new Error(
        `unknown optimizer "${j.optimizer}" in the fixture (accepted: sgd, sgd_momentum, adam, adamw, rmsprop)`,
      );
  }
}

export function readFixture(prefix: string): Fixture {
  const j = JSON.parse(readFileSync(`${prefix}.json`, "utf8")) as FixtureJson;
  const model = new Uint8Array(readFileSync(`${prefix}.onnx`));
  const raw = readFileSync(`${prefix}.data.bin`);
  const per = j.inputShape.reduce((a, b) => a * b, 1);
  const nx = j.steps * j.batch * per;
  const inputDtype = j.inputDtype ?? "float32";
  if (inputDtype !== "float32" && inputDtype !== "int64")
    throw new Error(`${prefix}.json: inputDtype must be "float32" or "int64", got "${inputDtype}"`);
  const labelShape = j.labelShape ?? [j.batch];
  if (labelShape[0] !== j.batch || labelShape.length > 2)
    throw new Error(`${prefix}.json: labelShape must be [batch] or [batch, T], got [${labelShape}]`);
  const loss = j.loss ?? "cross_entropy";
  if (loss !== "cross_entropy" && loss !== "mse" && loss !== "bce_with_logits")
    throw new Error(`${prefix}.json: loss must be cross_entropy, mse or bce_with_logits, got "${loss}"`);
  const perLabel = labelShape.slice(1).reduce((a, b) => a * b, 1);
  const xBytes = inputDtype === "int64" ? 8 : 4;
  const expected = nx * xBytes + j.steps * j.batch * perLabel * 8;
  if (raw.length !== expected)
    throw new Error(`${prefix}.data.bin has ${raw.length} bytes, expected ${expected}`);
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length);
  return {
    name: j.name ?? basename(prefix),
    model,
    inputShape: j.inputShape,
    classes: j.classes,
    batch: j.batch,
    steps: j.steps,
    optimizer: optimizerFromJson(j),
    lr: j.lr,
    inputDtype,
    labelShape: labelShape.slice(1),
    loss,
    x: inputDtype === "int64" ? new BigInt64Array(buf, 0, nx) : new Float32Array(buf, 0, nx),
    y: new BigInt64Array(buf, nx * xBytes, j.steps * j.batch * perLabel),
    losses: j.losses,
    accuracies: j.accuracies,
    evalLoss: j.evalLoss,
  };
}

export interface TrainTrace {
  losses: number[];
  accuracies: number[];
  gradNorms: number[];
  state: Record<string, Float32Array>;
}

/**
 * Trains on the fixture's batches in order: `loop` runs K steps per session.run (the last chunk may
 * be shorter), `step` runs the single-step graph once per batch.
 */
export async function trainFixture(
  f: Fixture,
  compiled: CompiledModel,
  form: "loop" | "step",
  k = f.steps,
): Promise<TrainTrace> {
  const session = await createSession(form === "loop" ? compiled.trainLoop : compiled.trainStep);
  const state: Record<string, Float32Array> = {};
  for (const t of compiled.tensors) state[t.name] = t.init;
  const hyper: Record<string, HostTensor> = {};
  for (const [h, v] of Object.entries(compiled.hyperparameters))
    hyper[h] = { dims: [], data: Float32Array.of(v) };
  const per = f.inputShape.reduce((a, b) => a * b, 1) * f.batch;
  const perY = f.labelShape.reduce((a, b) => a * b, 1) * f.batch;
  const trace: TrainTrace = { losses: [], accuracies: [], gradNorms: [], state };
  const chunk = form === "loop" ? k : 1;
  for (let s0 = 0; s0 < f.steps; s0 += chunk) {
    const n = Math.min(chunk, f.steps - s0);
    const feeds: Record<string, HostTensor> = { ...hyper };
    const xs = f.x.subarray(s0 * per, (s0 + n) * per);
    const ys = f.y.subarray(s0 * perY, (s0 + n) * perY);
    if (form === "loop") {
      feeds.x = { dims: [n, f.batch, ...f.inputShape], data: xs };
      feeds.y = { dims: [n, f.batch, ...f.labelShape], data: ys };
      feeds.lr = { dims: [n], data: new Float32Array(n).fill(f.lr) };
      feeds.step = { dims: [n], data: BigInt64Array.from({ length: n }, (_, i) => BigInt(s0 + i)) };
    } else {
      feeds.x = { dims: [f.batch, ...f.inputShape], data: xs };
      feeds.y = { dims: [f.batch, ...f.labelShape], data: ys };
      feeds.lr = { dims: [], data: Float32Array.of(f.lr) };
      feeds.step = { dims: [], data: BigInt64Array.of(BigInt(s0)) };
    }
    for (const t of compiled.tensors) feeds[t.name] = { dims: t.shape, data: state[t.name] };
    const out = await session.run(feeds);
    for (const t of compiled.tensors) state[t.name] = out[`${t.name}.next`].data as Float32Array;
    trace.losses.push(...Array.from(out.loss.data as Float32Array));
    trace.accuracies.push(...Array.from(out.accuracy.data as Float32Array));
    trace.gradNorms.push(...Array.from(out.grad_norm.data as Float32Array));
  }
  await session.release();
  return trace;
}

export interface ParityReport {
  model: string;
  steps: number;
  maxAbsLossDiff: number;
  accuracyMismatches: number;
  pass: boolean;
  rows: { step: number; loss: number; ref: number; diff: number; accuracy: number; refAccuracy: number }[];
}

export async function runParity(
  prefix: string,
  tol = 1e-4,
  form: "loop" | "step" = "loop",
  k?: number,
): Promise<ParityReport> {
  const f = readFixture(prefix);
  const compiled = compile(f.model, { optimizer: f.optimizer, dropout: false, loss: f.loss });
  const trace = await trainFixture(f, compiled, form, k ?? f.steps);
  const rows = f.losses.map((ref, i) => ({
    step: i,
    loss: trace.losses[i],
    ref,
    diff: Math.abs(trace.losses[i] - ref),
    accuracy: trace.accuracies[i],
    refAccuracy: f.accuracies[i],
  }));
  const maxAbsLossDiff = Math.max(
    ...rows.map((r) => (Number.isNaN(r.diff) ? Number.POSITIVE_INFINITY : r.diff)),
  );
  const accuracyMismatches = rows.filter((r) => Math.abs(r.accuracy - r.refAccuracy) > 1e-6).length;
  return {
    model: f.name,
    steps: f.steps,
    maxAbsLossDiff,
    accuracyMismatches,
    pass: maxAbsLossDiff <= tol && accuracyMismatches === 0,
    rows,
  };
}

export async function main(args: string[]): Promise<number> {
  let prefix: string | undefined;
  let tol = 1e-4;
  let form: "loop" | "step" = "loop";
  let k: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--help" || a === "-h") {
      console.log("usage: gradstream parity <prefix> [--tol 1e-4] [--form loop|step] [--k N]");
      return 0;
    }
    if (a === "--tol") tol = Number(args[++i]);
    else if (a === "--form") {
      const v = args[++i];
      if (v !== "loop" && v !== "step") throw new Error(`--form must be loop or step, got ${v}`);
      form = v;
    } else if (a === "--k") k = Number(args[++i]);
    else if (!prefix) prefix = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!prefix) {
    console.error("usage: gradstream parity <prefix> [--tol 1e-4] [--form loop|step] [--k N]");
    return 2;
  }
  if (!(tol > 0)) throw new Error(`--tol must be a positive number, got ${tol}`);
  if (k !== undefined && !(Number.isInteger(k) && k > 0))
    throw new Error(`--k must be a positive integer, got ${k}`);
  const base = prefix.replace(/\.(onnx|json|data\.bin)$/, "");
  const f = readFixture(base);
  try {
    compile(f.model, { optimizer: f.optimizer, dropout: false, loss: f.loss });
  } catch (e) {
    // a model the compiler refuses (e.g. unsupported ops): say why, then the summary line, no trace
    const message = e instanceof Error ? e.message : String(e);
    console.error(`gradstream parity: ${f.name} cannot be compiled: ${message}`);
    console.log(
      JSON.stringify({
        model: f.name,
        steps: 0,
        maxAbsLossDiff: null,
        accuracyMismatches: null,
        pass: false,
        error: message,
      }),
    );
    return 1;
  }
  const r = await runParity(base, tol, form, k);
  console.log("step        loss   reference        |diff|  acc   ref acc");
  for (const row of r.rows) {
    console.log(
      `${String(row.step).padStart(4)}  ${row.loss.toFixed(7).padStart(10)}  ${row.ref.toFixed(7).padStart(10)}  ${row.diff.toExponential(2).padStart(12)}  ${row.accuracy.toFixed(3)}  ${row.refAccuracy.toFixed(3)}${row.diff > tol ? "  <- over tolerance" : ""}`,
    );
  }
  const { model, steps, maxAbsLossDiff, accuracyMismatches, pass } = r;
  console.log(JSON.stringify({ model, steps, maxAbsLossDiff, accuracyMismatches, pass }));
  return pass ? 0 : 1;
}
