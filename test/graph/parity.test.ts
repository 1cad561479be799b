// Parity with PyTorch 1.13 on the seed fixtures (same weights, batches and optimizer; dropout off),
// and the Loop form against one session.run per step.
import { describe, expect, it } from "vitest";
import { readFixture, runParity, trainFixture } from "../../scripts/commands/parity.ts";
import { compile } from "../../src/graph/compile.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";

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

describe("one compiled graph serves any K and any batch size", () => {
  it("a last partial batch runs through the same Loop graph as K=1 with a smaller B", async () => {
    const f = readFixture(`${FIX}/seed_linear`);
    const c = compile(f.model, { optimizer: { kind: "adam" } });
    const session = await createSession(c.trainLoop);
    const stepSession = await createSession(c.trainStep);
    const feedsFor = (k: number, b: number, offset: number, shapeK: boolean): Record<string, HostTensor> => {
      const feeds: Record<string, HostTensor> = {
        x: { dims: shapeK ? [k, b, 10] : [b, 10], data: f.x.subarray(offset * 10, (offset + k * b) * 10) },
        y: { dims: shapeK ? [k, b] : [b], data: f.y.subarray(offset, offset + k * b) },
        lr: { dims: shapeK ? [k] : [], data: new Float32Array(k).fill(0.01) },
        step: { dims: shapeK ? [k] : [], data: BigInt64Array.from({ length: k }, (_, i) => BigInt(i)) },
      };
      for (const [h, v] of Object.entries(c.hyperparameters))
        feeds[h] = { dims: [], data: Float32Array.of(v) };
      for (const t of c.tensors) feeds[t.name] = { dims: t.shape, data: t.init };
      return feeds;
    };
    const partial = await session.run(feedsFor(1, 5, 0, true));
    const single = await stepSession.run(feedsFor(1, 5, 0, false));
    expect(partial.loss.dims).toEqual([1]);
    expect(Number(partial.loss.data[0])).toBeCloseTo(Number(single.loss.data[0]), 6);
    const full = await session.run(feedsFor(3, 10, 0, true));
    expect(full.loss.dims).toEqual([3]);
    expect(Number(full.loss.data[0])).toBeCloseTo(f.losses[0], 5);
    await Promise.all([session.release(), stepSession.release()]);
  });
});
