// Parity with PyTorch 1.13 on the seed fixtures (same weights, batches and optimizer; dropout off),
// and the Loop form against one session.run per step.
import { describe, expect, it } from "vitest";
import { readFixture, runParity, trainFixture } from "../../scripts/commands/parity.ts";
import { compile } from "../../src/graph/compile.ts";

const FIX = "test/fixtures/torch";

describe("training matches PyTorch step for step", () => {
  it("seed_linear with SGD: all 20 losses within 1e-4 of PyTorch's and identical accuracies", async () => {
    const r = await runParity(`${FIX}/seed_linear`);
    expect(r.steps).toBe(20);
    expect(r.maxAbsLossDiff).toBeLessThan(1e-4);
    expect(r.accuracyMismatches).toBe(0);
    expect(r.pass).toBe(true);
  });

  it("seed_cnn with Adam and dropout off: all 20 losses within 1e-4 of PyTorch's and identical accuracies", async () => {
    const r = await runParity(`${FIX}/seed_cnn`);
    expect(r.maxAbsLossDiff).toBeLessThan(1e-4);
    expect(r.accuracyMismatches).toBe(0);
  });

  it("a Loop of K steps per run (with a shorter last chunk) gives the losses of one run per step", async () => {
    const f = readFixture(`${FIX}/seed_cnn`);
    const compiled = compile(f.model, { optimizer: f.optimizer, dropout: false });
    const f6 = { ...f, steps: 6 };
    const loop = await trainFixture(f6, compiled, "loop", 4);
    const steps = await trainFixture(f6, compiled, "step");
    expect(loop.losses).toHaveLength(6);
    for (let i = 0; i < 6; i++) expect(Math.abs(loop.losses[i] - steps.losses[i])).toBeLessThan(1e-6);
    expect(loop.accuracies).toEqual(steps.accuracies);
    const w = "fc2.weight";
    let maxDiff = 0;
    for (let i = 0; i < loop.state[w].length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(loop.state[w][i] - steps.state[w][i]));
    expect(maxDiff).toBeLessThan(1e-6);
  });
});
