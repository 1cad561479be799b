// Training throughput of the compiled graphs: the seed CNN (batch 32, Adam) and the seed linear model
// (batch 10, SGD), one session.run per step versus a Loop of K steps per run, state fed back each run
// as a runner would. The baseline is each model's single-step form, measured in the same process.
// One JSON line per case: { case, steps_per_s, ratio_vs_step, ... }.
// The modern families (token classifier, causal char transformer, GRU over MNIST rows) also run in
// PyTorch eager (scripts/bench/torch_peer.py, same shapes, Adam) when Debian's python3-torch is
// importable; each prints { case, steps_per_s, torch_eager_steps_per_s, ratio_vs_torch_eager }.
// GRAPH_BENCH_SECONDS (default 3) sets the time per case; --profile runs the Loop cases under
// onnxruntime's profiler (slower) and adds the top ops by share of kernel time.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, unlinkSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CompiledModel, compile } from "../../src/graph/compile.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";

const SECONDS = Number(process.env.GRAPH_BENCH_SECONDS ?? 3);
const PROFILE = process.argv.includes("--profile");
const FIX = new URL("../../test/fixtures/torch/", import.meta.url);

interface Case {
  model: string;
  /** Token ids drawn below this (int64 inputs). */
  vocab?: number;
  batch: number;
  compiled: CompiledModel;
  inputShape: number[];
  lr: number;
}

function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** Sums onnxruntime's per-node kernel times by op type (a Loop's own entry includes its body). */
function summarizeProfile(prefix: string): { op: string; share: number }[] {
  const dir = dirname(prefix);
  const file = readdirSync(dir).find((f) => f.startsWith(basename(prefix)) && f.endsWith(".json"));
  if (!file) return [];
  const events = JSON.parse(readFileSync(join(dir, file), "utf8")) as ProfileEvent[];
  unlinkSync(join(dir, file));
  const byOp = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    const op = e.args?.op_name ?? "?";
    if (op === "Loop") continue;
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    total += e.dur;
  }
  return [...byOp.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([op, d]) => ({ op, share: Math.round((d / total) * 1000) / 10 }));
}

async function measure(
  c: Case,
  k: number | null,
  spinning = true,
): Promise<{ stepsPerS: number; cpuMsPerStep: number; profile?: string }> {
  const loop = k !== null;
  const session = await createSession(loop ? c.compiled.trainLoop : c.compiled.trainStep, {
    allowSpinning: spinning,
    ...(PROFILE && loop && spinning
      ? { profilePrefix: join(tmpdir(), `gradstream-${c.model}-k${k}-${process.pid}`) }
      : {}),
  });
  const kk = k ?? 1;
  const per = c.inputShape.reduce((a, b) => a * b, 1) * c.batch;
  const x =
    c.compiled.input.dtype === "int64"
      ? BigInt64Array.from({ length: per * kk }, (_, i) => BigInt((i * 7919) % (c.vocab ?? 2)))
      : randomData(per * kk, 1);
  const L = c.compiled.labelShape.reduce((a, b) => a * b, 1);
  const y = BigInt64Array.from({ length: c.batch * kk * L }, (_, i) => BigInt(i % c.compiled.classes));
  const state: Record<string, Float32Array> = Object.fromEntries(
    c.compiled.tensors.map((t) => [t.name, t.init]),
  );
  const feeds: Record<string, HostTensor> = {};
  for (const [h, v] of Object.entries(c.compiled.hyperparameters))
    feeds[h] = { dims: [], data: Float32Array.of(v) };
  feeds.x = { dims: loop ? [kk, c.batch, ...c.inputShape] : [c.batch, ...c.inputShape], data: x };
  const ls = c.compiled.labelShape;
  feeds.y = { dims: loop ? [kk, c.batch, ...ls] : [c.batch, ...ls], data: y };
  feeds.lr = { dims: loop ? [kk] : [], data: new Float32Array(kk).fill(c.lr) };
  let step = 0;
  const runOnce = async () => {
    feeds.step = {
      dims: loop ? [kk] : [],
      data: BigInt64Array.from({ length: kk }, (_, i) => BigInt(step + i)),
    };
    for (const t of c.compiled.tensors) feeds[t.name] = { dims: t.shape, data: state[t.name] };
    const out = await session.run(feeds);
    for (const t of c.compiled.tensors) state[t.name] = out[`${t.name}.next`].data as Float32Array;
    step += kk;
  };
  for (let i = 0; i < 3; i++) await runOnce();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const startStep = step;
  while (performance.now() - t0 < SECONDS * 1000) await runOnce();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const profile = session.endProfiling();
  await session.release();
  const steps = step - startStep;
  return { stepsPerS: steps / seconds, cpuMsPerStep: (cpu.user + cpu.system) / 1000 / steps, profile };
}

function load(
  name: string,
  batch: number,
  optimizer: "sgd" | "adam",
  lr: number,
  file?: URL,
  vocab?: number,
): Case {
  const bytes = new Uint8Array(readFileSync(file ?? new URL(`${name}.onnx`, FIX)));
  const compiled = compile(bytes, { optimizer: { kind: optimizer }, dropout: true });
  return { model: name, batch, compiled, inputShape: compiled.input.shape, lr, vocab };
}

const MODELS = new URL("../../models/", import.meta.url);
const MODERN = new URL("../../test/fixtures/torch-modern/", import.meta.url);

/** PyTorch eager steps/s for the same model, or null with the reason when torch is not importable. */
function torchPeer(name: string): { stepsPerS: number | null; note?: string } {
  const script = fileURLToPath(new URL("torch_peer.py", import.meta.url));
  for (const py of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(py, [script, name, String(SECONDS)], { encoding: "utf8" });
    if (r.status === 0)
      return { stepsPerS: Number(JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}").steps_per_s) };
    if (!/No module named 'torch'|ENOENT/.test(`${r.stderr}${r.error?.message ?? ""}`))
      return { stepsPerS: null, note: `PyTorch peer failed: ${r.stderr.trim().split("\n").pop()}` };
  }
  return {
    stepsPerS: null,
    note: "PyTorch eager peer skipped: `python3 -c 'import torch'` fails (apt-get install python3-torch)",
  };
}

// [K or null for the single-step graph, intra-op threads spinning]
const cases: [Case, [number | null, boolean][]][] = [
  [
    load("seed_cnn", 32, "adam", 0.001),
    [
      [null, true],
      [10, true],
      [50, true],
      [10, false],
    ],
  ],
  [
    load("seed_linear", 10, "sgd", 0.01),
    [
      [null, true],
      [10, true],
      [100, true],
    ],
  ],
];
// the modern families: Loop K=10 against PyTorch eager on the same shapes
const modern: [Case, string][] = [
  [
    load("token_classifier", 8, "adam", 0.002, new URL("token_classifier.onnx", MODERN), 50),
    "token_classifier",
  ],
  [
    load("transformer-char", 32, "adam", 0.003, new URL("transformer-char.onnx", MODELS), 86),
    "char_transformer",
  ],
  [load("rnn-mnist", 32, "adam", 0.005, new URL("rnn-mnist.onnx", MODELS)), "mnist_gru"],
];
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
for (const [c, peer] of modern) {
  if (only && !c.model.includes(only)) continue;
  const r = await measure(c, 10);
  const t = torchPeer(peer);
  console.log(
    JSON.stringify({
      case: `${c.model} batch ${c.batch} loop K=10`,
      steps_per_s: Math.round(r.stepsPerS * 10) / 10,
      torch_eager_steps_per_s: t.stepsPerS === null ? null : Math.round(t.stepsPerS * 10) / 10,
      ratio_vs_torch_eager: t.stepsPerS === null ? null : Math.round((r.stepsPerS / t.stepsPerS) * 100) / 100,
      ...(t.note ? { note: t.note } : {}),
      cpu_ms_per_step: Math.round(r.cpuMsPerStep * 1000) / 1000,
      load_average: Math.round(loadavg()[0] * 100) / 100,
      ...(r.profile ? { top_ops_percent_of_kernel_time: summarizeProfile(r.profile) } : {}),
    }),
  );
}
for (const [c, ks] of cases) {
  if (only && !c.model.includes(only)) continue;
  let baseline = 0;
  for (const [k, spinning] of ks) {
    const r = await measure(c, k, spinning);
    if (k === null) baseline = r.stepsPerS;
    console.log(
      JSON.stringify({
        case: `${c.model} batch ${c.batch} ${k === null ? "step" : `loop K=${k}`}${spinning ? "" : " no-spin"}`,
        steps_per_s: Math.round(r.stepsPerS * 10) / 10,
        ratio_vs_step: Math.round((r.stepsPerS / baseline) * 100) / 100,
        baseline: `${c.model} step`,
        // CPU time (all threads) per step is less sensitive to other load than wall time
        cpu_ms_per_step: Math.round(r.cpuMsPerStep * 1000) / 1000,
        load_average: Math.round(loadavg()[0] * 100) / 100,
        ...(r.profile ? { top_ops_percent_of_kernel_time: summarizeProfile(r.profile) } : {}),
      }),
    );
  }
}
