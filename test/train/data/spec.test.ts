import { describe, expect, it } from "vitest";
import {
  DATASETS,
  formatDatasetSpec,
  knownSize,
  parseDatasetSpec,
  validateDatasetSpec,
} from "../../../src/train/data/spec.ts";

describe("dataset specs", () => {
  it("normalizes a synthetic spec with defaults for seed and normalization", () => {
    expect(validateDatasetSpec({ kind: "synthetic", samples: 100, shape: [10], classes: 2 })).toEqual({
      kind: "synthetic",
      samples: 100,
      shape: [10],
      classes: 2,
      seed: 0,
      normalize: "none",
    });
  });

  it("names the field, the bad value and the accepted range", () => {
    expect(() => validateDatasetSpec({ kind: "synthetic", samples: 0, shape: [10], classes: 2 })).toThrow(
      "dataset.samples must be an integer between 1 and 10000000, got 0",
    );
    expect(() =>
      validateDatasetSpec({ kind: "synthetic", samples: 10, shape: [10, -1], classes: 2 }),
    ).toThrow(/dataset.shape must be an array of 1 to 4 positive integers .* got \[10,-1\]/);
    expect(() =>
      validateDatasetSpec({ kind: "blobs", samples: 10, shape: [2], classes: 2, spread: Number.NaN }),
    ).toThrow(/dataset.spread must be a finite number between 0 and 1000/);
    expect(() => validateDatasetSpec({ kind: "images" })).toThrow(
      'dataset.kind must be one of synthetic, blobs, mnist, idx, cifar10, csv, got "images"',
    );
    expect(() => validateDatasetSpec({ kind: "mnist", normalize: "zscore" })).toThrow(
      'dataset.normalize must be one of none, scale, standardize, got "zscore"',
    );
  });

  it("rejects unknown fields and lists the accepted ones", () => {
    expect(() => validateDatasetSpec({ kind: "mnist", sample: 5 })).toThrow(
      'dataset: unknown field "sample" for kind mnist; accepted: kind, seed, normalize, limit',
    );
  });

  it("requires IDX test images and test labels together", () => {
    expect(() => validateDatasetSpec({ kind: "idx", images: "a", labels: "b", testImages: "c" })).toThrow(
      /dataset.testLabels must be given together with its pair/,
    );
  });

  it("parses the compact CLI form with shapes joined by x and lists joined by +", () => {
    expect(parseDatasetSpec("synthetic:samples=1000,shape=3x32x32,classes=10,seed=4")).toEqual({
      kind: "synthetic",
      samples: 1000,
      shape: [3, 32, 32],
      classes: 10,
      seed: 4,
      normalize: "none",
    });
    expect(parseDatasetSpec("cifar10:files=a.bin+b.bin,testFiles=t.bin")).toEqual({
      kind: "cifar10",
      files: ["a.bin", "b.bin"],
      testFiles: ["t.bin"],
      seed: 0,
      normalize: "scale",
    });
    expect(parseDatasetSpec("csv:path=x.csv,labelColumn=2,header=false,delimiter=;")).toMatchObject({
      labelColumn: 2,
      header: false,
      delimiter: ";",
    });
    expect(parseDatasetSpec("mnist")).toEqual({ kind: "mnist", seed: 0, normalize: "scale" });
  });

  it("parses names and JSON, and reports unknown kinds with the alternatives", () => {
    expect(parseDatasetSpec("linear")).toEqual(DATASETS.linear);
    expect(parseDatasetSpec('{"kind":"blobs","samples":5,"shape":[2],"classes":3}')).toMatchObject({
      spread: 1,
    });
    expect(() => parseDatasetSpec("imagenet:samples=5")).toThrow(
      /unknown kind or name "imagenet"; kinds: synthetic/,
    );
    expect(() => parseDatasetSpec("synthetic:samples=abc,shape=10,classes=2")).toThrow(
      /dataset.samples must be an integer between 1 and 10000000, got NaN/,
    );
  });

  it("round-trips every named spec through the string form", () => {
    for (const spec of Object.values(DATASETS))
      expect(parseDatasetSpec(formatDatasetSpec(spec))).toEqual(spec);
  });

  it("names the reference experiments' data with the sizes the README's reference table gives", () => {
    expect(knownSize(DATASETS.linear)).toEqual({ samples: 100, shape: [10], classes: 2 });
    expect(knownSize(DATASETS["batch-size"])).toEqual({ samples: 1000, shape: [10], classes: 2 });
    expect(knownSize(DATASETS["cnn-dropout"])).toEqual({ samples: 1000, shape: [3, 32, 32], classes: 10 });
    expect(knownSize(DATASETS.mnist)).toEqual({ samples: 10000, shape: [1, 28, 28], classes: 10 });
  });

  it("returns a fresh copy of a named spec so callers cannot change the table", () => {
    const s = parseDatasetSpec("linear");
    if (s.kind === "synthetic") s.samples = 5;
    expect(parseDatasetSpec("linear")).toMatchObject({ samples: 100 });
  });
});
