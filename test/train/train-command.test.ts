import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Runs `gradstream train …` as a real process (stdout is a pipe, so output is plain unless --json). */
function train(...args: string[]): { code: number | null; out: string[]; err: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/cli.ts", "train", ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout.split("\n").filter((l) => l !== ""), err: r.stderr };
}

describe("gradstream train", () => {
  it("prints one plain line per batch for example 1: 100 lines in the documented format, then exits 0", () => {
    const r = train("--experiment", "linear");
    expect(r.code).toBe(0);
    const batches = r.out.filter((l) => l.startsWith("Epoch: "));
    expect(batches).toHaveLength(100);
    expect(
      batches.every((l) => /^Epoch: \d+, Batch Loss: \d+\.\d{4}, Batch Accuracy: \d\.\d{4}$/.test(l)),
    ).toBe(true);
    expect(batches[0]).toMatch(/^Epoch: 1, /);
    expect(batches[99]).toMatch(/^Epoch: 10, /);
  });

  it("prints JSON lines for both runs of the batch-size experiment: 100 and 10 batches with epoch summaries", () => {
    const r = train("--experiment", "batch-size", "--json");
    expect(r.code).toBe(0);
    const lines = r.out.map((l) => JSON.parse(l) as { run: number; type: string; step?: number });
    const count = (run: number, type: string) => lines.filter((l) => l.run === run && l.type === type).length;
    expect([count(0, "batch"), count(1, "batch"), count(0, "epoch"), count(1, "epoch")]).toEqual([
      100, 10, 1, 1,
    ]);
    expect(lines.filter((l) => l.type === "end")).toHaveLength(2);
  });

  it("trains a model and dataset given by flags, and exits 1 naming the step when the loss becomes NaN", () => {
    const ok = train(
      "--model",
      "linear",
      "--dataset",
      "linear-blobs",
      "--batch-size",
      "10",
      "--epochs",
      "2",
      "--validation",
      "0.2",
    );
    expect(ok.code).toBe(0);
    expect(ok.out.filter((l) => l.startsWith("Epoch: "))).toHaveLength(16);
    // the last epoch's summary, then the throughput and the noise verdict (their own test below)
    expect(ok.out.at(-3)).toMatch(
      /^Epoch 2 done: Loss: [\d.]+, Accuracy: [\d.]+, Val Loss: [\d.]+, Val Accuracy: [\d.]+$/,
    );
    const bad = train(
      "--model",
      "mnist-mlp",
      "--dataset",
      "blobs:samples=200,shape=1x28x28,classes=10,spread=0.5",
      "--lr",
      "100",
      "--batch-size",
      "20",
      "--epochs",
      "3",
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/gradstream train: loss became NaN at step \d+/);
  });

  it("trains on the intra-op threads --threads gives, says so on the start line, and refuses 0", () => {
    const one = train("--experiment", "linear", "--threads", "1", "--json");
    expect(one.code).toBe(0);
    expect(JSON.parse(one.out[0])).toMatchObject({ type: "start", threads: 1 });
    expect(one.out.filter((l) => JSON.parse(l).type === "batch")).toHaveLength(100);
    // without the flag: every core the process may use, named (onnxruntime's own default ran one
    // thread on a 2-core VM)
    const auto = train("--experiment", "linear", "--epochs", "1", "--json");
    expect(JSON.parse(auto.out[0])).toMatchObject({ type: "start", threads: availableParallelism() });
    const zero = train("--experiment", "linear", "--threads", "0");
    expect(zero.code).toBe(2);
    expect(zero.err).toMatch(/--threads must be an integer from 1 to 256, got "0"/);
  });

  it("ends with its steps per second and the noise probe's verdict, puts each probe's values on its step's row, and --no-noise drops both", () => {
    // plain: the batch lines, the epoch summaries, then why the loss fluctuates
    const plain = train("--experiment", "linear");
    expect(plain.out.filter((l) => l.startsWith("Epoch: "))).toHaveLength(100);
    expect(plain.out.at(-2)).toMatch(/^Trained 100 steps in \d+\.\d+ s: \d+\.\d steps\/s$/);
    expect(plain.out.at(-1)).toMatch(
      /^Why the loss fluctuates: \d+% of the batch-loss variance comes from .+ B_noise ≈ [\d.e+]+; at batch 10 /,
    );
    // JSON, probing every 25 steps: after steps 24, 49, 74 and 99, each row carrying the probe's values
    const json = train("--experiment", "linear", "--noise-every", "25", "--json");
    expect(json.code).toBe(0);
    const lines = json.out.map(
      (l) =>
        JSON.parse(l) as { type: string; step?: number; custom?: Record<string, number> } & Record<
          string,
          unknown
        >,
    );
    const probed = lines.filter((l) => l.type === "batch" && l.custom);
    expect(probed.map((l) => l.step)).toEqual([24, 49, 74, 99]);
    for (const l of probed) {
      expect(l.custom?.["noise.clean_loss"]).toBeGreaterThan(0);
      expect(l.custom?.["noise.sampling_var"]).toBeGreaterThan(0);
    }
    // the verdict judges the four probes: their shares sum to 1, and the trend has a direction
    const noise = lines.find((l) => l.type === "noise");
    expect(noise).toMatchObject({ dominant: expect.stringMatching(/^(SAMPLING|DROPOUT|DRIFT)$/) });
    expect(noise?.trend).toMatch(/^(FALLING|FLAT|RISING)$/);
    const shares = noise?.shares as {
      samplingShare: number;
      dropoutShare: number;
      driftShare: number;
      probes: number;
    };
    expect(shares.probes).toBe(4);
    expect(shares.samplingShare + shares.dropoutShare + shares.driftShare).toBeCloseTo(1, 6);
    // the end line: the loop's seconds and steps per second, as the user waited for them
    const end = lines.at(-1) as { type: string; seconds: number; stepsPerSecond: number };
    expect(end.type).toBe("end");
    expect(end.seconds).toBeGreaterThan(0);
    expect(end.stepsPerSecond).toBeCloseTo(100 / end.seconds, 6);
    // off: no probe values on any row, no verdict
    const off = train("--experiment", "linear", "--no-noise", "--json");
    const offLines = off.out.map((l) => JSON.parse(l) as { type: string; custom?: unknown });
    expect(offLines.filter((l) => l.type === "batch")).toHaveLength(100);
    expect(offLines.some((l) => l.custom !== undefined || l.type === "noise")).toBe(false);
    const both = train("--experiment", "linear", "--no-noise", "--noise-every", "5");
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--noise-every cannot be combined with --no-noise/);
    const zero = train("--experiment", "linear", "--noise-every", "0");
    expect(zero.code).toBe(2);
    expect(zero.err).toMatch(/--noise-every must be an integer from 1 to 1000000000, got "0"/);
  });

  it("exits 2 with a message saying what is accepted for bad usage and bad configurations", () => {
    const unknown = train("--experiment", "nope");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown experiment "nope"; experiments: linear, batch-size, cnn-dropout/);
    // an experiment's own settings are refused, not ignored; the run-length options apply
    const fixed = train("--experiment", "linear", "--lr", "0.5", "--batch-size", "20");
    expect(fixed.code).toBe(2);
    expect(fixed.err).toMatch(
      /--experiment linear sets its own --lr, --batch-size; with --experiment give only --epochs, --k, --seed/,
    );
    const short = train("--experiment", "linear", "--epochs", "2", "--json");
    expect(short.out.filter((l) => JSON.parse(l).type === "batch")).toHaveLength(20);
    const missing = train("--model", "linear");
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/give --experiment <name>, or both --model and --dataset/);
    const batch = train("--model", "linear", "--dataset", "linear", "--batch-size", "500");
    expect(batch.code).toBe(2);
    expect(batch.err).toMatch(
      /batchSize must be an integer between 1 and the training set size 100, got 500/,
    );
    const opt = train("--model", "linear", "--dataset", "linear", "--optimizer", "lbfgs");
    expect(opt.code).toBe(2);
    expect(opt.err).toMatch(/optimizer.kind must be one of sgd, adam, adamw, rmsprop, got "lbfgs"/);
  });
});
