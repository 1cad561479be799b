// gradstream train: trains without the server and prints every batch.
//   gradstream train --experiment <name>
//   gradstream train --model <file.onnx | built-in name> --dataset <spec> [--optimizer sgd|adam|adamw|rmsprop]
//     [--lr N] [--batch-size N] [--epochs N] [--k N] [--seed N] [--validation F] [--provider CPU|CUDA|WEBGPU]
//     [--threads N]
//   output: --json (one JSON object per batch/epoch line), --plain (forced when stdout is not a TTY:
//   `Epoch: 1, Batch Loss: 0.6931, Batch Accuracy: 0.5000`), else a progress bar with loss/accuracy.
// Exit codes: 0 trained, 1 training failed (e.g. the loss became NaN), 2 bad usage or configuration.
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { noisePoints, noiseSummary, noiseValues } from "../../src/stats/noise.ts";
import { BUILTIN_MODELS, builtinModelBytes, readModelFile } from "../../src/train/catalog.ts";
import { EXPERIMENTS, OPTIMIZER_KINDS } from "../../src/train/config.ts";
import { NOISE_LIMITS } from "../../src/train/noise-config.ts";
import { requireProvider } from "../../src/train/providers.ts";
import { Trainer, type TrainInfo } from "../../src/train/runner.ts";

const HELP = `usage: gradstream train --experiment <name>
       gradstream train --model <file.onnx|${BUILTIN_MODELS.join("|")}> --dataset <spec> [options]

options:
  --experiment <name>    one of: ${Object.keys(EXPERIMENTS).join(", ")}
  --model <file|name>    an ONNX forward model file or a built-in model name
  --dataset <spec>       a dataset name or spec, e.g. linear, mnist, blobs:samples=1000,shape=10,classes=2
  --optimizer <kind>     ${OPTIMIZER_KINDS.join(" | ")} (default sgd)
  --lr <number>          learning rate (default: the optimizer's)
  --batch-size <n>       samples per batch (default 32)
  --epochs <n>           passes over the training set (default 1)
  --k <n>                training steps per onnxruntime run (default 10)
  --seed <n>             shuffling and dropout seed (default 0)
  --validation <f>       fraction held out for validation, 0 to 0.5 (default 0)
  --provider <name>      CPU | CUDA | WEBGPU (default CPU)
  --threads <n>          onnxruntime intra-op threads (default: every core)
  --noise-every <n>      probe the loss noise every n steps (default 300; also after the last step)
  --no-noise             no noise probe (its verdict, and its ≈ 2% of the training time, go)
  --json                 one JSON object per batch and per epoch
  --plain                one text line per batch even on a terminal
  -h, --help             this help

With --experiment only --epochs, --k, --seed, --provider, --threads and the noise and output options
apply: the experiment sets the rest.`;

class UsageError extends Error {}

interface Job {
  title: string;
  model: Uint8Array;
  config: Record<string, unknown>;
}

function num(v: string | undefined, name: string, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)))
    throw new UsageError(`--${name} must be ${integer ? "an integer" : "a number"}, got "${v}"`);
  return n;
}

function jobsFrom(
  args: string[],
): { jobs: Job[]; json: boolean; plain: boolean; threads: number | undefined } | "help" {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        experiment: { type: "string" },
        model: { type: "string" },
        dataset: { type: "string" },
        optimizer: { type: "string" },
        lr: { type: "string" },
        "batch-size": { type: "string" },
        epochs: { type: "string" },
        k: { type: "string" },
        seed: { type: "string" },
        validation: { type: "string" },
        provider: { type: "string" },
        threads: { type: "string" },
        "noise-every": { type: "string" },
        "no-noise": { type: "boolean" },
        json: { type: "boolean" },
        plain: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  }
  try {
    parsed = parse();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  if (v.help) return "help";
  const threads = num(v.threads, "threads", true);
  if (threads !== undefined && (threads < 1 || threads > 256))
    throw new UsageError(`--threads must be an integer from 1 to 256, got "${v.threads}"`);
  const out = { json: v.json ?? false, plain: v.plain ?? false, threads };
  const k = num(v.k, "k", true);
  const epochs = num(v.epochs, "epochs", true);
  const seed = num(v.seed, "seed", true);
  const every = num(v["noise-every"], "noise-every", true);
  const [minEvery, maxEvery] = NOISE_LIMITS.every;
  if (every !== undefined && (every < minEvery || every > maxEvery))
    throw new UsageError(
      `--noise-every must be an integer from ${minEvery} to ${maxEvery}, got "${v["noise-every"]}"`,
    );
  if (every !== undefined && v["no-noise"])
    throw new UsageError("--noise-every cannot be combined with --no-noise");
  // the noise settings: a config's `noise` field, validated with the rest of the configuration
  const noiseOf = (base: unknown) =>
    v["no-noise"]
      ? { noise: false }
      : every !== undefined
        ? { noise: { ...(typeof base === "object" && base !== null ? base : {}), every } }
        : {};
  if (v.experiment !== undefined) {
    const e = EXPERIMENTS[v.experiment];
    if (!e) {
      throw new UsageError(
        `unknown experiment "${v.experiment}"; experiments: ${Object.keys(EXPERIMENTS).join(", ")}`,
      );
    }
    if (v.model || v.dataset)
      throw new UsageError("--experiment cannot be combined with --model or --dataset");
    // The options that define what an experiment compares are its own; they were ignored without a word.
    const fixed = (["optimizer", "lr", "batch-size", "validation"] as const).filter(
      (o) => v[o] !== undefined,
    );
    if (fixed.length)
      throw new UsageError(
        `--experiment ${v.experiment} sets its own ${fixed.map((o) => `--${o}`).join(", ")}; with --experiment give only --epochs, --k, --seed, --provider, --threads and the noise and output options`,
      );
    const model = builtinModelBytes(e.model);
    const jobs = e.runs.map((cfg) => ({
      title: e.runs.length > 1 ? `${e.name} (batch ${cfg.batchSize})` : e.name,
      model,
      config: {
        ...cfg,
        ...(k ? { k } : {}),
        ...(epochs !== undefined ? { epochs } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(v.provider !== undefined ? { provider: v.provider } : {}),
        ...noiseOf(cfg.noise),
      } as Record<string, unknown>,
    }));
    return { jobs, ...out };
  }
  if (!v.model || !v.dataset) throw new UsageError("give --experiment <name>, or both --model and --dataset");
  const model = (BUILTIN_MODELS as readonly string[]).includes(v.model)
    ? builtinModelBytes(v.model)
    : readModelFile(v.model);
  const lr = num(v.lr, "lr", false);
  const optimizer = { kind: v.optimizer ?? "sgd", ...(lr !== undefined ? { lr } : {}) };
  const validation = num(v.validation, "validation", false);
  const config: Record<string, unknown> = {
    dataset: v.dataset,
    optimizer,
    batchSize: num(v["batch-size"], "batch-size", true) ?? 32,
    epochs: epochs ?? 1,
    k: k ?? 10,
    seed: seed ?? 0,
    provider: v.provider ?? "CPU",
    ...(validation !== undefined ? { validation: { fraction: validation } } : {}),
    ...noiseOf(undefined),
  };
  return { jobs: [{ title: v.model, model, config }], ...out };
}

const f4 = (x: number) => x.toFixed(4);
/** ms from process start (performance's time origin) to main(). */
let startedAt = 0;

export async function main(args: string[]): Promise<number> {
  startedAt = performance.now();
  let plan: ReturnType<typeof jobsFrom>;
  try {
    plan = jobsFrom(args);
  } catch (err) {
    console.error(`gradstream train: ${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    return 2;
  }
  if (plan === "help") {
    console.log(HELP);
    return 0;
  }
  const mode = plan.json ? "json" : plan.plain || !process.stdout.isTTY ? "plain" : "bar";
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  // A closed pipe (`| head`) ends training quietly instead of crashing on EPIPE.
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    controller.abort();
  };
  process.stdout.on("error", onStdoutError);
  try {
    for (const [runIndex, job] of plan.jobs.entries()) {
      let trainer: Trainer;
      try {
        const provider = job.config.provider;
        if (provider === "CUDA" || provider === "WEBGPU") await requireProvider(provider);
        trainer = await Trainer.create({
          model: job.model,
          config: job.config,
          ...(plan.threads !== undefined ? { threads: plan.threads } : {}),
        });
      } catch (err) {
        console.error(`gradstream train: ${err instanceof Error ? err.message : String(err)}`);
        return 2;
      }
      const code = await trainOne(
        trainer,
        runIndex,
        job.title,
        mode,
        plan.jobs.length > 1,
        controller.signal,
      );
      if (code !== 0) return code;
    }
    return 0;
  } finally {
    process.off("SIGINT", onSigint);
    process.stdout.off("error", onStdoutError);
  }
}

async function trainOne(
  trainer: Trainer,
  run: number,
  title: string,
  mode: "json" | "plain" | "bar",
  several: boolean,
  signal: AbortSignal,
): Promise<number> {
  const info: TrainInfo = trainer.info;
  const write = (o: Record<string, unknown>) => {
    if (!signal.aborted) process.stdout.write(`${JSON.stringify({ run, ...o })}\n`);
  };
  // setupMs: where the time before the first batch went (startup = process start until this command
  // ran: Node, tsx and the imports), for the graph bench's real-data epoch
  if (mode === "json")
    write({ type: "start", title, ...info, setupMs: { startup: startedAt, ...trainer.setupMs } });
  else if (several || mode === "bar")
    console.log(`# ${title}: ${info.totalSteps} batches, ${info.epochs} epochs`);
  const bar =
    mode === "bar"
      ? new cliProgress.SingleBar(
          {
            format:
              "Epoch {epoch} |{bar}| {value}/{total} | loss {loss} | accuracy {accuracy} | {speed} steps/s | ETA {eta_formatted}",
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  bar?.start(info.totalSteps, info.startStep, { epoch: 1, loss: "-", accuracy: "-", speed: "-" });
  // steps per second since this loop began, as the user sees it (chunks, probes and evaluations included)
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  const speed = (stepsDone: number) => stepsDone / seconds();
  // the noise probes' values, for the verdict at the end (the API's Run.noise, from the same math)
  const probes: Parameters<typeof noisePoints>[0][number][] = [];
  try {
    const it = trainer.chunks(signal);
    for (;;) {
      const r = await it.next();
      if (r.done) {
        bar?.stop();
        if (r.value.status === "aborted") {
          console.error(`gradstream train: interrupted after step ${r.value.lastStep}`);
          return 1;
        }
        const done = r.value.lastStep + 1 - info.startStep;
        const s = seconds();
        if (mode !== "json")
          console.log(
            `Trained ${done} steps in ${s.toFixed(s < 1 ? 2 : 1)} s: ${(done / s).toFixed(1)} steps/s`,
          );
        if (probes.length) {
          const v = noiseSummary(noisePoints(probes, trainer.noise?.settings.emaDecay), info.batchSize);
          if (mode === "json") write({ type: "noise", ...v });
          else console.log(`Why the loss fluctuates: ${v.sentence}`);
        }
        if (mode === "json")
          write({
            type: "end",
            status: r.value.status,
            lastStep: r.value.lastStep,
            seconds: s,
            stepsPerSecond: done / s,
          });
        return 0;
      }
      const c = r.value;
      const noise = c.noise;
      if (noise)
        probes.push({ firstStep: noise.step, lastStep: noise.step, values: noiseValues(noise.values) });
      for (const row of c.rows) {
        // a probe's values ride on its step's row, as the API stores and streams them
        const custom = noise?.step === row.step ? { custom: noise.values } : {};
        if (mode === "json") write({ type: "batch", ...row, ...custom });
        else if (mode === "plain")
          console.log(
            `Epoch: ${row.epoch + 1}, Batch Loss: ${f4(row.loss)}, Batch Accuracy: ${f4(row.accuracy)}`,
          );
      }
      const last = c.rows[c.rows.length - 1];
      const payload = last && {
        epoch: last.epoch + 1,
        loss: f4(last.loss),
        accuracy: f4(last.accuracy),
        speed: speed(last.step + 1 - info.startStep).toFixed(1),
      };
      if (last) bar?.update(last.step + 1, payload);
      if (c.epoch) {
        const e = c.epoch;
        if (mode === "json") write({ type: "epoch", ...e });
        else {
          const val =
            e.valLoss === null ? "" : `, Val Loss: ${f4(e.valLoss)}, Val Accuracy: ${f4(e.valAccuracy ?? 0)}`;
          const line = `Epoch ${e.epoch + 1} done: Loss: ${f4(e.trainLoss)}, Accuracy: ${f4(e.trainAccuracy)}${val}`;
          if (bar && last) {
            // A SingleBar cannot print above itself: stop it, print, start it again where it was.
            bar.stop();
            console.log(line);
            bar.start(info.totalSteps, last.step + 1, payload);
          } else console.log(line);
        }
      }
    }
  } catch (err) {
    bar?.stop();
    console.error(`gradstream train: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await trainer.release();
  }
}
