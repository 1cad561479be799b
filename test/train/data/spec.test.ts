import { describe, expect, it } from "vitest";
import { nodeFiles } from "../../../src/train/data/files.ts";
import { loadDataset } from "../../../src/train/data/load.ts";
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
      'dataset.kind must be one of synthetic, blobs, mnist, idx, cifar10, csv, text, got "images"',
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

describe("text and MNIST-rows datasets", () => {
  it("parses text:corpus=…,seqLen=… and text:path=…, and refuses both or neither, naming the accepted corpora", () => {
    expect(parseDatasetSpec("text:corpus=licenses,seqLen=16")).toEqual({
      kind: "text",
      corpus: "licenses",
      seqLen: 16,
      seed: 0,
      normalize: "none",
    });
    expect(parseDatasetSpec("text:path=book.txt,seqLen=8")).toMatchObject({ path: "book.txt", seqLen: 8 });
    expect(() => parseDatasetSpec("text:seqLen=8")).toThrow(/exactly one of them/);
    expect(() => parseDatasetSpec("text:corpus=poems,seqLen=8")).toThrow(
      /dataset.corpus must be one of licenses, got "poems"/,
    );
    expect(() => parseDatasetSpec("text:corpus=licenses,seqLen=0")).toThrow(
      /dataset.seqLen must be an integer/,
    );
  });

  it("cuts text into next-character windows with the training text's vocabulary plus an unknown id", () => {
    const text = "abcabcabcabcabcabcabcabcabcabcXYZ";
    const files = { ...nodeFiles, readText: () => text };
    const d = loadDataset(parseDatasetSpec("text:path=t.txt,seqLen=4"), { validation: 0.25, files });
    expect(d.vocabulary).toEqual(["a", "b", "c"]);
    expect(d.classes).toBe(4);
    expect(d.labelShape).toEqual([4]);
    expect(d.train.count).toBe(6);
    expect(Array.from(d.train.x.subarray(0, 4))).toEqual([0, 1, 2, 0]);
    expect(Array.from(d.train.y.subarray(0, 4))).toEqual([1, 2, 0, 1]);
    // characters the training text never had map to the unknown id
    const v = d.validation;
    expect(v?.count).toBe(2);
    expect(Array.from(v?.y ?? []).slice(-3)).toEqual([3, 3, 3]);
  });

  it("mnist:rows=true gives each digit as 28 rows of 28 pixels", () => {
    const d = loadDataset(parseDatasetSpec("mnist:rows=true,limit=50"));
    expect(d.shape).toEqual([28, 28]);
    expect(d.train.count).toBe(50);
  });
});

describe("text datasets over the API", () => {
  it("confine text:path to the data directory like every other file, and let the built-in corpus through", async () => {
    const { apiDatasetSpec } = await import("../../../src/train/data/files.ts");
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const root = mkdtempSync(join(tmpdir(), "text-root-"));
    writeFileSync(join(root, "book.txt"), "some text");
    expect(() => apiDatasetSpec("text:path=/etc/passwd,seqLen=8", [root])).toThrow(
      /dataset.path: not a file inside the data directory/,
    );
    expect(() => apiDatasetSpec("text:path=../book.txt,seqLen=8", [root])).toThrow(/not a file inside/);
    expect(apiDatasetSpec("text:path=book.txt,seqLen=8", [root])).toMatchObject({
      path: join(root, "book.txt"),
    });
    expect(apiDatasetSpec("text:corpus=licenses,seqLen=8", [root])).toMatchObject({ corpus: "licenses" });
  });
});
