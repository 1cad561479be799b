// The parity and export commands, run as users run them.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main as exportMain } from "../../scripts/commands/export.ts";

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ["bin/gradstream.js", ...args], { encoding: "utf8" });
  const lines = r.stdout.trim().split("\n");
  return { code: r.status, last: lines[lines.length - 1], stdout: r.stdout, stderr: r.stderr };
}

describe("gradstream parity", () => {
  it("prints a per-step table and a passing JSON summary for seed_linear, exiting 0", () => {
    const r = cli(["parity", "test/fixtures/torch/seed_linear"]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.last) as Record<string, unknown>;
    expect(summary).toMatchObject({ model: "seed_linear", steps: 20, accuracyMismatches: 0, pass: true });
    expect(summary.maxAbsLossDiff).toBeLessThan(1e-4);
    expect(r.stdout.split("\n").length).toBeGreaterThan(21);
  });

  it("exits non-zero when a loss differs by more than --tol", () => {
    const r = cli(["parity", "test/fixtures/torch/seed_linear", "--tol", "1e-12", "--form", "step"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.last)).toMatchObject({ pass: false });
  });
});

describe("gradstream export", () => {
  it("writes the three graphs, their dumps, the initial state and a manifest that indexes it", async () => {
    const out = mkdtempSync(join(tmpdir(), "gradstream-export-"));
    try {
      const code = await exportMain([
        "--model",
        "test/fixtures/torch/seed_linear.onnx",
        "--out",
        out,
        "--optimizer",
        "sgd",
        "--momentum",
        "0.9",
      ]);
      expect(code).toBe(0);
      for (const f of [
        "train_loop.onnx",
        "train_step.onnx",
        "eval_step.onnx",
        "train_step.txt",
        "state.bin",
      ]) {
        expect(existsSync(join(out, f))).toBe(true);
      }
      const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as {
        tensors: { name: string; byteOffset: number; byteLength: number }[];
        hyperparameters: Record<string, number>;
      };
      expect(manifest.tensors.map((t) => t.name)).toEqual([
        "fc.weight",
        "fc.bias",
        "fc.weight.momentum_buffer",
        "fc.bias.momentum_buffer",
      ]);
      expect(manifest.hyperparameters).toEqual({ momentum: 0.9, dampening: 0 });
      const state = readFileSync(join(out, "state.bin"));
      const last = manifest.tensors[manifest.tensors.length - 1];
      expect(state.length).toBe(last.byteOffset + last.byteLength);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
