// gradstream export --model <file.onnx> --out <dir> [--optimizer sgd|adam|adamw|rmsprop] [--loss …]
//   [--momentum m] [--weight-decay w] [--nesterov] [--centered] [--no-dropout] [--seed n]
// Writes the compiled training artifacts so they can be inspected (e.g. in Netron) or run elsewhere:
// train_loop.onnx, train_step.onnx, eval_step.onnx, their text dumps, state.bin (every state tensor's
// initial float32 values, concatenated in manifest order) and manifest.json (names, shapes, roles,
// byte offsets, hyperparameters and the graphs' input/output conventions).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile, type LossKind, type OptimizerSpec } from "../../src/graph/compile.ts";

const USAGE =
  "usage: gradstream export --model <file.onnx> --out <dir> [--optimizer sgd|adam|adamw|rmsprop] [--loss cross_entropy|mse|bce_with_logits] [--momentum m] [--weight-decay w] [--nesterov] [--centered] [--no-dropout] [--seed n]";

function num(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n))
    throw new Error(`${flag} needs a number, got ${v ?? "nothing"}`);
  return n;
}

export async function main(args: string[]): Promise<number> {
  let model: string | undefined;
  let out: string | undefined;
  let kind = "adam";
  let loss: LossKind = "cross_entropy";
  let momentum: number | undefined;
  let weightDecay: number | undefined;
  let nesterov = false;
  let centered = false;
  let dropout = true;
  let seed = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      return 0;
    } else if (a === "--model") model = args[++i];
    else if (a === "--out") out = args[++i];
    else if (a === "--optimizer") kind = args[++i];
    else if (a === "--loss") {
      const v = args[++i];
      if (v !== "cross_entropy" && v !== "mse" && v !== "bce_with_logits")
        throw new Error(`--loss must be cross_entropy, mse or bce_with_logits, got ${v}`);
      loss = v;
    } else if (a === "--momentum") momentum = num(a, args[++i]);
    else if (a === "--weight-decay") weightDecay = num(a, args[++i]);
    else if (a === "--nesterov") nesterov = true;
    else if (a === "--centered") centered = true;
    else if (a === "--no-dropout") dropout = false;
    else if (a === "--seed") seed = num(a, args[++i]);
    else throw new Error(`unexpected argument ${a}\n${USAGE}`);
  }
  if (!model || !out) {
    console.error(USAGE);
    return 2;
  }
  let optimizer: OptimizerSpec;
  if (kind === "sgd") optimizer = { kind, momentum, nesterov, weightDecay };
  else if (kind === "adam" || kind === "adamw") optimizer = { kind, weightDecay };
  else if (kind === "rmsprop") optimizer = { kind, momentum, centered, weightDecay };
  else throw new Error(`--optimizer must be sgd, adam, adamw or rmsprop, got ${kind}`);
  const c = compile(new Uint8Array(readFileSync(model)), { optimizer, loss, dropout, seed });
  mkdirSync(out, { recursive: true });
  for (const [file, which] of [
    ["train_loop", "trainLoop"],
    ["train_step", "trainStep"],
    ["eval_step", "evalStep"],
  ] as const) {
    writeFileSync(join(out, `${file}.onnx`), c[which]);
    writeFileSync(join(out, `${file}.txt`), `${c.dump(which)}\n`);
  }
  let offset = 0;
  const tensors = c.tensors.map((t) => {
    const entry = {
      name: t.name,
      shape: t.shape,
      role: t.role,
      byteOffset: offset,
      byteLength: t.init.byteLength,
    };
    offset += t.init.byteLength;
    return entry;
  });
  const state = new Uint8Array(offset);
  for (const [i, t] of c.tensors.entries())
    state.set(new Uint8Array(t.init.buffer, t.init.byteOffset, t.init.byteLength), tensors[i].byteOffset);
  writeFileSync(join(out, "state.bin"), state);
  const manifest = {
    model,
    input: c.input,
    classes: c.classes,
    optimizer,
    loss,
    dropout,
    seed,
    hyperparameters: c.hyperparameters,
    parameterCount: c.parameterCount,
    tensors,
    graphs: {
      train_loop:
        "inputs x[K,B,...], y int64[K,B], lr[K], step int64[K] (global 0-based), hyperparameters (scalars), state tensors; outputs loss, accuracy, grad_norm, confidence, true_prob [K] and <state>.next",
      train_step: "as train_loop without the K axis",
      eval_step:
        "inputs x[B,...], y int64[B], params and bn_running tensors; outputs loss, accuracy, confidence, true_prob (batch means) and logits",
    },
  };
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(JSON.stringify({ out, tensors: tensors.length, stateBytes: offset, opSummary: c.opSummary }));
  return 0;
}
