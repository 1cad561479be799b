import { describe, expect, it } from "vitest";
import { EXPERIMENTS, validateOptimizer, validateRunConfig } from "../../src/train/config.ts";
import { planBatches } from "../../src/train/data/batches.ts";
import { knownSize } from "../../src/train/data/spec.ts";

describe("run configuration", () => {
  it("fills every default into a normalized configuration", () => {
    expect(validateRunConfig({ batchSize: 10 })).toEqual({
      optimizer: { kind: "sgd", lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
      epochs: 1,
      batchSize: 10,
      k: 10,
      seed: 0,
      schedule: { kind: "constant" },
      validation: { fraction: 0, everySteps: null },
      loss: "cross_entropy",
      provider: "CPU",
    });
  });

  it("fills optimizer defaults like torch.optim", () => {
    expect(validateOptimizer("adam")).toEqual({
      kind: "adam",
      lr: 0.001,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0,
    });
    expect(validateOptimizer({ kind: "adamw", lr: 0.003 })).toMatchObject({ weightDecay: 0.01, lr: 0.003 });
    expect(validateOptimizer({ kind: "rmsprop" })).toEqual({
      kind: "rmsprop",
      lr: 0.01,
      alpha: 0.99,
      eps: 1e-8,
      momentum: 0,
      centered: false,
      weightDecay: 0,
    });
  });

  it("rejects NaN, Infinity and out-of-range hyperparameters naming field, value and range", () => {
    expect(() => validateOptimizer({ kind: "sgd", lr: Number.NaN })).toThrow(
      "optimizer.lr must be a finite number > 0 and ≤ 100, got NaN",
    );
    expect(() => validateOptimizer({ kind: "sgd", lr: 0 })).toThrow(
      "optimizer.lr must be a finite number > 0 and ≤ 100, got 0",
    );
    expect(() => validateOptimizer({ kind: "adam", lr: Number.POSITIVE_INFINITY })).toThrow(/got Infinity/);
    expect(() => validateOptimizer({ kind: "adam", beta2: 1 })).toThrow(
      "optimizer.beta2 must be a finite number ≥ 0 and < 1, got 1",
    );
    expect(() => validateOptimizer({ kind: "adam", eps: 0 })).toThrow(
      "optimizer.eps must be a finite number > 0 and ≤ 1, got 0",
    );
    expect(() => validateOptimizer({ kind: "sgd", momentum: -0.1 })).toThrow(
      /optimizer.momentum .* got -0.1/,
    );
    expect(() => validateOptimizer({ kind: "rmsprop", centered: "yes" })).toThrow(
      'optimizer.centered must be true or false, got "yes"',
    );
    expect(() => validateOptimizer({ kind: "sgd", nesterov: true })).toThrow(
      "optimizer.nesterov requires momentum > 0 and dampening = 0, got momentum 0 and dampening 0",
    );
    expect(() => validateOptimizer({ kind: "lbfgs" })).toThrow(
      'optimizer.kind must be one of sgd, adam, adamw, rmsprop, got "lbfgs"',
    );
    expect(() => validateOptimizer({ kind: "sgd", beta1: 0.9 })).toThrow(
      'optimizer (sgd): unknown field "beta1"; accepted: kind, lr, momentum, dampening, nesterov, weightDecay',
    );
  });

  it("checks epochs, K, seed, loss and provider ranges", () => {
    expect(() => validateRunConfig({ batchSize: 1, epochs: 0 })).toThrow(
      "epochs must be an integer between 1 and 10000, got 0",
    );
    expect(() => validateRunConfig({ batchSize: 1, epochs: 10001 })).toThrow(/epochs .* got 10001/);
    expect(() => validateRunConfig({ batchSize: 1, k: 1001 })).toThrow(
      "k must be an integer between 1 and 1000, got 1001",
    );
    expect(() => validateRunConfig({ batchSize: 1, seed: 0.5 })).toThrow("seed must be an integer, got 0.5");
    expect(() => validateRunConfig({ batchSize: 1, loss: "mse" })).toThrow(
      'loss must be one of cross_entropy, got "mse"',
    );
    expect(() => validateRunConfig({ batchSize: 1, provider: "TPU" })).toThrow(
      'provider must be one of CPU, CUDA, WEBGPU, got "TPU"',
    );
    expect(() => validateRunConfig({ batchSize: 1, lr: 0.1 })).toThrow(
      /run configuration: unknown field "lr"/,
    );
  });

  it("bounds the batch size by the training set the dataset and validation fraction leave", () => {
    expect(() => validateRunConfig({ dataset: "linear", batchSize: 101 })).toThrow(
      "batchSize must be an integer between 1 and the training set size 100, got 101",
    );
    expect(() => validateRunConfig({ dataset: "linear", batchSize: 90, validation: 0.2 })).toThrow(
      /training set size 80, got 90/,
    );
    expect(() => validateRunConfig({ batchSize: 50 }, { trainSamples: 40 })).toThrow(
      /training set size 40, got 50/,
    );
    expect(() => validateRunConfig({ batchSize: 0 })).toThrow(
      "batchSize must be an integer between 1 and 1000000, got 0",
    );
    expect(
      validateRunConfig({ dataset: { kind: "mnist" }, batchSize: 9000, validation: 0.1 }).batchSize,
    ).toBe(9000);
  });

  it("validates validation settings and schedules with their field names", () => {
    expect(
      validateRunConfig({ batchSize: 1, validation: { fraction: 0.1, everySteps: 50 } }).validation,
    ).toEqual({
      fraction: 0.1,
      everySteps: 50,
    });
    expect(validateRunConfig({ batchSize: 1, validation: "none" }).validation).toEqual({
      fraction: 0,
      everySteps: null,
    });
    expect(() => validateRunConfig({ batchSize: 1, validation: { fraction: 0.7 } })).toThrow(
      "validation.fraction must be a finite number ≥ 0 and ≤ 0.5, got 0.7",
    );
    expect(() => validateRunConfig({ batchSize: 1, validation: { everySteps: 0 } })).toThrow(
      /validation.everySteps must be an integer between 1 and/,
    );
    expect(() => validateRunConfig({ batchSize: 1, schedule: { kind: "cosine", etaMin: -1 } })).toThrow(
      "schedule.etaMin must be a finite number between 0 and 1000000, got -1",
    );
    expect(() => validateRunConfig({ batchSize: 1, dataset: { kind: "synthetic" } })).toThrow(
      /dataset.samples/,
    );
  });
});

describe("named experiments", () => {
  const steps = (name: string) =>
    EXPERIMENTS[name].runs.map((r) => {
      const size = r.dataset ? knownSize(r.dataset) : null;
      if (!size) throw new Error("size unknown");
      const train = size.samples - Math.round(size.samples * r.validation.fraction);
      return planBatches(train, r.batchSize, r.epochs).totalSteps;
    });

  it("reproduces the reference configurations and batch counts of the README's table", () => {
    const linear = EXPERIMENTS.linear.runs[0];
    expect(EXPERIMENTS.linear.model).toBe("linear");
    expect(linear.optimizer).toMatchObject({ kind: "sgd", lr: 0.01, momentum: 0 });
    expect([linear.batchSize, linear.epochs, linear.validation.fraction]).toEqual([10, 10, 0]);
    expect(steps("linear")).toEqual([100]);
    expect(EXPERIMENTS["batch-size"].runs.map((r) => r.batchSize)).toEqual([10, 100]);
    expect(steps("batch-size")).toEqual([100, 10]);
    const cnn = EXPERIMENTS["cnn-dropout"].runs[0];
    expect(EXPERIMENTS["cnn-dropout"].model).toBe("cnn");
    expect(cnn.optimizer).toMatchObject({ kind: "adam", lr: 0.001 });
    expect([cnn.batchSize, cnn.epochs]).toEqual([32, 2]);
    expect(steps("cnn-dropout")).toEqual([64]);
  });

  it("pairs every reference experiment with a learnable twin that holds data out", () => {
    for (const e of Object.values(EXPERIMENTS).filter((x) => x.reference)) {
      const twin = EXPERIMENTS[e.twin];
      expect(twin.reference).toBe(false);
      expect(twin.runs.every((r) => r.validation.fraction > 0)).toBe(true);
      expect(twin.runs.map((r) => r.optimizer)).toEqual(e.runs.map((r) => r.optimizer));
    }
    expect(steps("cnn-mnist")).toEqual([2 * Math.ceil(9000 / 32)]);
  });
});
