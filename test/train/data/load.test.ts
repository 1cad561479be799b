import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { CIFAR_RECORD, encodeIdx, parseCsv, parseIdx } from "../../../src/train/data/formats.ts";
import { checkInputShape, loadDataset, readSamples, summarizeDataset } from "../../../src/train/data/load.ts";
import { DATASETS, validateDatasetSpec } from "../../../src/train/data/spec.ts";

const dir = mkdtempSync(join(tmpdir(), "gradstream-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

describe("synthetic datasets", () => {
  it("generates example 1's data: 100 × 10 Gaussian features and 2 random classes, the same every time", () => {
    const a = loadDataset(DATASETS.linear);
    const b = loadDataset(DATASETS.linear);
    expect(a.train.count).toBe(100);
    expect(a.train.features).toBe(10);
    expect(a.classes).toBe(2);
    expect(a.validation).toBeNull();
    expect(a.train.x).toEqual(b.train.x);
    expect(a.train.y).toEqual(b.train.y);
    const ones = a.train.y.reduce((n, v) => n + v, 0);
    expect(ones).toBeGreaterThan(30);
    expect(ones).toBeLessThan(70);
    expect(Math.abs(mean(a.train.x))).toBeLessThan(0.15);
    // Pinned values: a change of generator or stream layout shows up here.
    expect(Array.from(a.train.x.slice(0, 3), (v) => Number(v.toFixed(5)))).toMatchInlineSnapshot(`
      [
        -0.29889,
        1.83427,
        -1.60856,
      ]
    `);
    expect(Array.from(a.train.y.slice(0, 10))).toMatchInlineSnapshot(`
      [
        1,
        0,
        1,
        0,
        0,
        1,
        0,
        0,
        1,
        0,
      ]
    `);
  });

  it("generates example 3's 1,000 random 3×32×32 images over 10 classes", () => {
    const d = loadDataset(DATASETS["cnn-dropout"]);
    expect(d.shape).toEqual([3, 32, 32]);
    expect(d.train.x.length).toBe(1000 * 3072);
    expect(new Set(d.train.y).size).toBe(10);
  });

  it("gives different data for a different seed", () => {
    const a = loadDataset(validateDatasetSpec({ ...DATASETS.linear, seed: 1 }));
    expect(a.train.x.slice(0, 10)).not.toEqual(loadDataset(DATASETS.linear).train.x.slice(0, 10));
  });

  it("makes blobs whose class means differ by much more than the noise", () => {
    const d = loadDataset(
      validateDatasetSpec({ kind: "blobs", samples: 2000, shape: [4], classes: 2, spread: 0.1 }),
    );
    // With spread 0.1 each sample is within ~0.4 of its class center: nearest class mean classifies all.
    const centers = [0, 1].map((c) => {
      const m = [0, 0, 0, 0];
      let n = 0;
      for (let i = 0; i < d.train.count; i++) {
        if (d.train.y[i] !== c) continue;
        n++;
        for (let f = 0; f < 4; f++) m[f] += d.train.x[i * 4 + f];
      }
      return m.map((v) => v / n);
    });
    let correct = 0;
    for (let i = 0; i < d.train.count; i++) {
      const dist = centers.map((m) => m.reduce((s, v, f) => s + (d.train.x[i * 4 + f] - v) ** 2, 0));
      if ((dist[0] < dist[1] ? 0 : 1) === d.train.y[i]) correct++;
    }
    expect(correct / d.train.count).toBeGreaterThan(0.99);
  });
});

describe("splits and normalization", () => {
  it("holds out a seeded validation fraction disjoint from training", () => {
    const spec = validateDatasetSpec({ kind: "synthetic", samples: 200, shape: [3], classes: 2 });
    const d = loadDataset(spec, { validation: 0.2 });
    expect(d.validationSource).toBe("fraction");
    expect(summarizeDataset(d)).toMatchObject({
      kind: "synthetic",
      trainSamples: 160,
      validationSamples: 40,
      shape: [3],
    });
    expect(d.train.count).toBe(160);
    expect(d.validation?.count).toBe(40);
    const key = (x: Float32Array | Uint8Array, i: number) => `${x[i * 3]},${x[i * 3 + 1]}`;
    const trainKeys = new Set(Array.from({ length: 160 }, (_, i) => key(d.train.x, i)));
    const v = d.validation;
    if (!v) throw new Error("no validation split");
    for (let i = 0; i < 40; i++) expect(trainKeys.has(key(v.x, i))).toBe(false);
    expect(loadDataset(spec, { validation: 0.2 }).validation?.x).toEqual(v.x);
  });

  it("rejects a validation fraction above 0.5", () => {
    expect(() => loadDataset(DATASETS.linear, { validation: 0.6 })).toThrow(
      "validation fraction must be between 0 and 0.5, got 0.6",
    );
  });

  it("standardizes with training statistics only", () => {
    const spec = validateDatasetSpec({
      kind: "blobs",
      samples: 500,
      shape: [3],
      classes: 2,
      spread: 5,
      normalize: "standardize",
    });
    const d = loadDataset(spec, { validation: 0.2 });
    expect(d.normalization.groups).toBe("feature");
    for (let f = 0; f < 3; f++) {
      const col = Array.from({ length: d.train.count }, (_, i) => d.train.x[i * 3 + f]);
      const m = mean(col);
      expect(Math.abs(m)).toBeLessThan(1e-5);
      expect(Math.sqrt(mean(col.map((v) => (v - m) ** 2)))).toBeCloseTo(1, 4);
    }
    // Validation values are transformed with the same shift/divide, so they are not exactly standard.
    const vcol = Array.from({ length: d.validation?.count ?? 0 }, (_, i) => d.validation?.x[i * 3] ?? 0);
    expect(Math.abs(mean(vcol))).toBeGreaterThan(0);
  });

  it("min-max scales free-range features to [0,1] per feature", () => {
    const spec = validateDatasetSpec({
      kind: "synthetic",
      samples: 50,
      shape: [2],
      classes: 2,
      normalize: "scale",
    });
    const d = loadDataset(spec);
    expect(Math.min(...d.train.x)).toBe(0);
    expect(Math.max(...d.train.x)).toBeCloseTo(1, 6);
  });

  it("keeps a seeded subset when limit is set", () => {
    const d = loadDataset(validateDatasetSpec({ ...DATASETS["batch-size"], limit: 123 }));
    expect(d.train.count).toBe(123);
  });
});

describe("file formats", () => {
  it("parses raw and gzipped IDX files and scales their bytes to [0,1]", () => {
    const pixels = Uint8Array.from({ length: 4 * 2 * 3 }, (_, i) => (i * 11) % 256);
    const labels = Uint8Array.from([0, 2, 1, 2]);
    writeFileSync(join(dir, "img.idx"), encodeIdx([4, 2, 3], pixels));
    writeFileSync(join(dir, "lab.idx.gz"), gzipSync(encodeIdx([4], labels)));
    const d = loadDataset(
      validateDatasetSpec({ kind: "idx", images: join(dir, "img.idx"), labels: join(dir, "lab.idx.gz") }),
    );
    expect(d.shape).toEqual([1, 2, 3]);
    expect(d.classes).toBe(3);
    expect(Array.from(d.train.y)).toEqual([0, 2, 1, 2]);
    expect(d.train.x[1]).toBeCloseTo(11 / 255, 7);
  });

  it("uses IDX test files as the validation set", () => {
    writeFileSync(join(dir, "timg.idx"), encodeIdx([2, 2, 3], new Uint8Array(12).fill(255)));
    writeFileSync(join(dir, "tlab.idx"), encodeIdx([2], Uint8Array.from([1, 0])));
    const d = loadDataset(
      validateDatasetSpec({
        kind: "idx",
        images: join(dir, "img.idx"),
        labels: join(dir, "lab.idx.gz"),
        testImages: join(dir, "timg.idx"),
        testLabels: join(dir, "tlab.idx"),
      }),
      { validation: 0.1 },
    );
    expect(d.validationSource).toBe("files");
    expect(d.train.count).toBe(4);
    expect(Array.from(d.validation?.x ?? [])).toEqual(new Array(12).fill(1));
  });

  it("reads IDX signed bytes as values from -128 to 127 and unsigned bytes from 0 to 255", () => {
    const signed = Uint8Array.from([0, 0, 0x09, 1, 0, 0, 0, 4, 0xff, 0x80, 0x7f, 5]);
    expect(Array.from(parseIdx(signed).data)).toEqual([-1, -128, 127, 5]);
    const unsigned = encodeIdx([2, 2], Uint8Array.from([0, 255, 128, 7]));
    // unsigned bytes stay bytes (normalization maps them to floats as batches are read)
    expect(parseIdx(unsigned)).toEqual({ dims: [2, 2], data: Uint8Array.from([0, 255, 128, 7]) });
  });

  it("explains a truncated or foreign IDX file", () => {
    const good = encodeIdx([2, 2], Uint8Array.from([1, 2, 3, 4]));
    expect(() => parseIdx(good.subarray(0, good.length - 1), "x.idx")).toThrow(
      "x.idx: IDX dims [2, 2] of ubyte need 16 bytes, the file has 15",
    );
    expect(() => parseIdx(Uint8Array.from([80, 75, 3, 4]), "x.zip")).toThrow(/x.zip is not an IDX file/);
    expect(parseIdx(encodeIdx([2], Float32Array.from([1.5, -2]))).data).toEqual(Float32Array.from([1.5, -2]));
  });

  it("keeps byte images as bytes and reads them as the floats normalization gives, per channel or per feature", () => {
    const write = (name: string, dims: number[]) => {
      const n = dims[0];
      const per = dims.slice(1).reduce((a, b) => a * b, 1);
      // each third of a sample spans its own range, so per-channel (and per-feature) statistics differ
      const pixels = Uint8Array.from(
        { length: n * per },
        (_, o) => ((o * 37) % 64) + 60 * Math.floor(((o % per) * 3) / per),
      );
      writeFileSync(join(dir, `${name}.idx`), encodeIdx(dims, pixels));
      writeFileSync(
        join(dir, `${name}-labels.idx`),
        encodeIdx(
          [n],
          Uint8Array.from({ length: n }, (_, i) => i % 3),
        ),
      );
      return { images: join(dir, `${name}.idx`), labels: join(dir, `${name}-labels.idx`), pixels };
    };
    const cases = [
      // [N, 3, 4, 4] standardized per channel, scaled ÷ 255, left as they are
      { dims: [40, 3, 4, 4], normalize: "standardize", bytes: true },
      { dims: [40, 3, 4, 4], normalize: "scale", bytes: true },
      { dims: [40, 3, 4, 4], normalize: "none", bytes: true },
      // [N, 6] standardized per feature: a 6 × 256 table is larger than the 240 bytes, so floats
      { dims: [40, 6], normalize: "standardize", bytes: false },
    ];
    for (const c of cases) {
      const f = write(`bytes-${c.dims.length}-${c.normalize}`, c.dims);
      const d = loadDataset(
        validateDatasetSpec({ kind: "idx", images: f.images, labels: f.labels, normalize: c.normalize }),
      );
      expect(d.train.x instanceof Uint8Array, c.normalize).toBe(c.bytes);
      const { groups, shift, divide } = summarizeDataset(d).normalization;
      const features = d.train.features;
      const per = features / shift.length;
      expect(groups).toBe(
        c.normalize === "standardize" ? (c.dims.length === 2 ? "feature" : "channel") : "global",
      );
      // what converting every byte up front gave: (v − shift) / divide, rounded to float32 once
      const expected = Float32Array.from(f.pixels, (v, o) => {
        const g = Math.floor((o % features) / per);
        return (v - shift[g]) / divide[g];
      });
      expect(readSamples(d.train, 0, d.train.count), `${c.dims} ${c.normalize}`).toEqual(expected);
    }
    // A seeded subset and a validation fraction keep bytes too (where the table is the smaller), and pick the same samples with the same
    // values as the same numbers stored as a float IDX file (standardized: statistics of the same values).
    const f = write("bytes-subset", [40, 3, 4, 4]);
    const floats = join(dir, "floats-subset.idx");
    writeFileSync(floats, encodeIdx([40, 3, 4, 4], Float32Array.from(f.pixels)));
    const spec = (images: string) =>
      validateDatasetSpec({ kind: "idx", images, labels: f.labels, normalize: "standardize", limit: 30 });
    const [b, fl] = [
      loadDataset(spec(f.images), { validation: 0.2 }),
      loadDataset(spec(floats), { validation: 0.2 }),
    ];
    expect(b.train.x).toBeInstanceOf(Uint8Array);
    // 6 samples of 48 bytes are fewer than a 3 × 256 table: that split is converted to floats
    expect(b.validation?.x).toBeInstanceOf(Float32Array);
    expect([b.train.count, b.validation?.count]).toEqual([24, 6]);
    expect(readSamples(b.train, 0, 24)).toEqual(readSamples(fl.train, 0, 24));
    expect(b.train.y).toEqual(fl.train.y);
    const [bv, fv] = [b.validation, fl.validation];
    if (!bv || !fv) throw new Error("no validation split");
    expect(readSamples(bv, 0, 6)).toEqual(readSamples(fv, 0, 6));
  });

  it("reads CIFAR-10 binary batches channel-first with their labels", () => {
    const rec = (label: number, fill: number) => {
      const r = new Uint8Array(CIFAR_RECORD).fill(fill);
      r[0] = label;
      r[1 + 1024] = 7; // first green pixel
      return r;
    };
    const bytes = new Uint8Array(3 * CIFAR_RECORD);
    bytes.set(rec(3, 0), 0);
    bytes.set(rec(9, 51), CIFAR_RECORD);
    bytes.set(rec(0, 255), 2 * CIFAR_RECORD);
    writeFileSync(join(dir, "data_batch_1.bin"), bytes);
    writeFileSync(join(dir, "bad.bin"), bytes.subarray(0, 100));
    const d = loadDataset(validateDatasetSpec({ kind: "cifar10", files: [join(dir, "data_batch_1.bin")] }));
    expect(d.shape).toEqual([3, 32, 32]);
    expect(d.classes).toBe(10);
    expect(Array.from(d.train.y)).toEqual([3, 9, 0]);
    expect(d.train.x).toBeInstanceOf(Uint8Array);
    const x = readSamples(d.train, 0, 3);
    expect(x[1024]).toBe(Math.fround(7 / 255));
    expect(x[3072]).toBe(Math.fround(0.2));
    expect(() =>
      loadDataset(validateDatasetSpec({ kind: "cifar10", files: [join(dir, "bad.bin")] })),
    ).toThrow(/bad.bin is not a CIFAR-10 binary batch: its size 100 is not a multiple of 3073 bytes/);
  });

  it("reads CSV by label column name or index and reports bad cells with their line", () => {
    writeFileSync(join(dir, "iris.csv"), "a,b,species\n1,2,0\n3,4,1\n5,6,2\n");
    const d = loadDataset(
      validateDatasetSpec({ kind: "csv", path: join(dir, "iris.csv"), labelColumn: "species" }),
    );
    expect(d.shape).toEqual([2]);
    expect(Array.from(d.train.x)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(d.train.y)).toEqual([0, 1, 2]);
    const opts = { labelColumn: 0, header: "auto" as const, delimiter: ";" };
    expect(Array.from(parseCsv("1;0.5\n0;0.25\n", opts).x.data)).toEqual([0.5, 0.25]);
    expect(() => parseCsv("y;v\n1;2\n0;abc\n", opts, "f.csv")).toThrow(
      "f.csv line 3 column 2: not a finite number",
    );
    expect(() => parseCsv("y;v\n1.5;2\n", opts, "f.csv")).toThrow(
      "f.csv line 2: the label is not a class index (an integer ≥ 0)",
    );
    expect(() => parseCsv("y;v\n1;2\n", { ...opts, labelColumn: "z" }, "f.csv")).toThrow(
      'f.csv: no column named "z" in its header row (of 2 columns)',
    );
  });

  it("names the missing file", () => {
    expect(() => loadDataset(validateDatasetSpec({ kind: "csv", path: join(dir, "nope.csv") }))).toThrow(
      `dataset: file not found: ${join(dir, "nope.csv")}`,
    );
  });

  it("reads the mnist package's 10,000 digits deterministically as [1,28,28] in [0,1]", () => {
    const d = loadDataset(DATASETS.mnist, { validation: 0.1 });
    expect(d.train.count + (d.validation?.count ?? 0)).toBe(10000);
    expect(d.validation?.count).toBe(1000);
    expect(d.shape).toEqual([1, 28, 28]);
    expect(d.classes).toBe(10);
    expect(Math.max(...d.train.x.subarray(0, 784 * 50))).toBeLessThanOrEqual(1);
    const counts = new Array(10).fill(0);
    for (const v of d.train.y) counts[v]++;
    for (const c of counts) expect(c).toBeGreaterThan(700);
    const again = loadDataset(DATASETS.mnist, { validation: 0.1 });
    expect(again.validation?.y).toEqual(d.validation?.y);
  });
});

describe("input shape check", () => {
  it("accepts a matching shape with a dynamic batch dimension", () => {
    expect(() => checkInputShape([3, 32, 32], ["batch", 3, 32, 32])).not.toThrow();
    expect(checkInputShape([10], [null, 10])).toBeUndefined();
  });

  it("explains a mismatch and hints at flattening when only the layout differs", () => {
    expect(() => checkInputShape([10], ["batch", 3, 32, 32])).toThrow(
      'dataset samples have shape [10] but model input "input" expects [3, 32, 32] per sample (input dims [batch, 3, 32, 32])',
    );
    expect(() => checkInputShape([1, 28, 28], ["batch", 784])).toThrow(/the element counts agree/);
    expect(() => checkInputShape([1, 28, 28], [])).not.toThrow();
  });
});
