// Turns a validated DatasetSpec into in-memory train/validation splits: generate or parse, take the
// seeded `limit` subset, split off validation, then normalize with statistics of the training split
// only (so validation data never leaks into them).
import { type ByteDecoder, byteDecoder } from "./byte-decoder.ts";
import { type DataFiles, nodeFiles } from "./files.ts";
import { idxExamples, parseCifar10, parseCsv, parseIdx, type RawImages } from "./formats.ts";
import { gaussianArray, gaussianBlock } from "./gaussian.ts";
import { deriveSeed, permutation, Rng } from "./prng.ts";
import type { DatasetSpec, Normalization } from "./spec.ts";
import { loadText } from "./text.ts";

/**
 * A set of examples: x is [count, ...shape] row-major, y the class indices. x holds the normalized
 * float32 values, or a byte source's bytes with `bytes` mapping each to its normalized value; read
 * samples with readSample/readSamples, which serve both.
 */
export interface Split {
  count: number;
  shape: number[];
  /** Elements per sample (product of shape). */
  features: number;
  x: Float32Array | Uint8Array;
  y: Int32Array;
  /**
   * For byte samples once normalized: feature f of value v reads table[⌊f / per⌋·256 + v], the same
   * float32 that (v − shift) / divide gave when the bytes were converted up front. The decoder, where
   * there is one, does the same lookup in WebAssembly.
   */
  bytes?: { table: Float32Array; per: number; decoder: ByteDecoder | null };
}

/** Writes sample j's normalized values into dst from `at`. */
export function readSample(s: Split, j: number, dst: Float32Array, at: number): void {
  const f = s.features;
  const from = j * f;
  const x = s.x;
  if (x instanceof Float32Array) {
    // small samples copy faster element by element than through a subarray
    if (f < 256) for (let q = 0; q < f; q++) dst[at + q] = x[from + q];
    else dst.set(x.subarray(from, from + f), at);
    return;
  }
  if (!s.bytes) throw new Error("internal: byte samples read before normalization");
  const { table, per, decoder } = s.bytes;
  if (decoder) {
    decoder.read(x, j, dst, at);
    return;
  }
  for (let q = 0, t = 0; q < f; t += 256) {
    for (const end = q + per; q < end; q++) dst[at + q] = table[t + x[from + q]];
  }
}

/**
 * Samples [from, from + n) as one float32 array: a view of x when it holds floats, else decoded into
 * `scratch` (when it is large enough) or a new array.
 */
export function readSamples(s: Split, from: number, n: number, scratch?: Float32Array): Float32Array {
  const f = s.features;
  if (s.x instanceof Float32Array) return s.x.subarray(from * f, (from + n) * f);
  const out = scratch && scratch.length >= n * f ? scratch.subarray(0, n * f) : new Float32Array(n * f);
  for (let i = 0; i < n; i++) readSample(s, from + i, out, i * f);
  return out;
}

/** x' = (x - shift[g]) / divide[g], g = the feature, the channel (dim 0 of shape) or one global group. */
export interface NormalizationStats {
  kind: Normalization;
  groups: "feature" | "channel" | "global";
  shift: number[];
  divide: number[];
}

export interface Dataset {
  spec: DatasetSpec;
  shape: number[];
  classes: number;
  /** Labels per sample beyond the first axis: absent or [] = one class per sample, [T] = one per position. */
  labelShape?: number[];
  /** Text datasets: the character of each id (the id vocabulary.length is "unknown"). */
  vocabulary?: string[];
  train: Split;
  validation: Split | null;
  /** Where the validation split came from: the spec's test files, a seeded fraction, or nowhere. */
  validationSource: "files" | "fraction" | "none";
  normalization: NormalizationStats;
}

export interface LoadOptions {
  /** Fraction (0..0.5) of the samples held out for validation when the spec has no test files. */
  validation?: number | null;
  files?: DataFiles;
  /** Threads that may generate synthetic features (default: every core); 1 = this thread only. */
  threads?: number;
}

interface Loaded {
  x: RawImages;
  y: Int32Array;
  /** Values are bytes 0..255 (scale divides by 255) or already in [0,1] (scale is the identity). */
  range: "byte" | "unit" | "free";
}

function generateSynthetic(
  samples: number,
  shape: number[],
  classes: number,
  seed: number,
  threads: number | undefined,
): Loaded {
  const features = shape.reduce((a, b) => a * b, 1);
  // Features first, then labels, from separate streams (like torch.randn then torch.randint).
  const fx = new Rng(deriveSeed(seed, "features"));
  const data = gaussianArray(fx, samples * features, threads);
  const fy = new Rng(deriveSeed(seed, "labels"));
  const y = new Int32Array(samples);
  for (let i = 0; i < samples; i++) y[i] = fy.int(classes);
  return { x: { count: samples, shape, data }, y, range: "free" };
}

function generateBlobs(
  samples: number,
  shape: number[],
  classes: number,
  spread: number,
  seed: number,
): Loaded {
  const features = shape.reduce((a, b) => a * b, 1);
  const fc = new Rng(deriveSeed(seed, "centers"));
  const centers = new Float32Array(classes * features);
  for (let i = 0; i < centers.length; i++) centers[i] = 2 * fc.uniform() - 1;
  const fy = new Rng(deriveSeed(seed, "labels"));
  const y = new Int32Array(samples);
  for (let i = 0; i < samples; i++) y[i] = fy.int(classes);
  const fx = new Rng(deriveSeed(seed, "features"));
  const data = new Float32Array(samples * features);
  // each sample's draws in float64 first, so center + spread·z rounds to float32 once, as it always did
  const z = new Float64Array(features);
  for (let i = 0; i < samples; i++) {
    const c = y[i] * features;
    fx.state = gaussianBlock(fx.state, z, 0, features);
    for (let f = 0; f < features; f++) data[i * features + f] = centers[c + f] + spread * z[f];
  }
  return { x: { count: samples, shape, data }, y, range: "free" };
}

function loadMnist(files: DataFiles): Loaded {
  const digits = files.readMnistDigits();
  const count = digits.reduce((n, d) => n + d.length / 784, 0);
  const data = new Float32Array(count * 784);
  const y = new Int32Array(count);
  let n = 0;
  digits.forEach((d, label) => {
    data.set(d, n * 784);
    y.fill(label, n, n + d.length / 784);
    n += d.length / 784;
  });
  return { x: { count, shape: [1, 28, 28], data }, y, range: "unit" };
}

/** Synthetic sets at least this large (features, bytes) go through the decoded-dataset cache. */
export const SYNTHETIC_CACHE_MIN_BYTES = 64 << 20;

const RANGES: readonly Loaded["range"][] = ["byte", "unit", "free"];

/**
 * decode(), or what it returned for the same source files before (files.cache: a decoded-dataset file
 * read back costs about half of inflating and converting the sources). A cached entry whose arrays do not
 * fit its own shape and count is not trusted.
 */
function cachedDecode(
  files: DataFiles,
  kind: string,
  sources: string[],
  decode: () => Loaded,
  key = "",
): Loaded {
  const hit = files.cache?.get(kind, sources, key);
  if (hit) {
    const { count, shape, range } = hit.meta;
    const { x, y } = hit.arrays;
    const dims =
      Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 1) ? (shape as number[]) : null;
    if (
      dims &&
      Number.isInteger(count) &&
      RANGES.includes(range as Loaded["range"]) &&
      (x instanceof Float32Array || (x instanceof Uint8Array && range === "byte")) &&
      y instanceof Int32Array &&
      y.length === count &&
      x.length === (count as number) * dims.reduce((a, b) => a * b, 1) &&
      y.every((v) => v >= 0)
    )
      return { x: { count: count as number, shape: dims, data: x }, y, range: range as Loaded["range"] };
  }
  const loaded = decode();
  if (files.cache) {
    const { count, shape, data } = loaded.x;
    files.cache.put(
      kind,
      sources,
      {
        meta: { count, shape, range: loaded.range },
        arrays: { x: data, y: loaded.y },
      },
      key,
    );
  }
  return loaded;
}

function loadIdx(files: DataFiles, images: string, labels: string): Loaded {
  return cachedDecode(files, "idx", [images, labels], () => {
    const bytes = files.readBytes(images);
    const isByte = bytes[2] === 0x08;
    const ex = idxExamples(parseIdx(bytes, images), parseIdx(files.readBytes(labels), labels), images);
    return { ...ex, range: isByte ? "byte" : "free" };
  });
}

/** The cache key of a synthetic set large enough to be cached (everything its values depend on), else null. */
function syntheticCacheKey(spec: Extract<DatasetSpec, { kind: "synthetic" }>): string | null {
  const large = spec.samples * spec.shape.reduce((a, b) => a * b, 1) * 4 >= SYNTHETIC_CACHE_MIN_BYTES;
  return large ? JSON.stringify([spec.samples, spec.shape, spec.classes, spec.seed]) : null;
}

/**
 * Starts reading the decoded-dataset cache entries `spec` will load on libuv's threads: a trainer
 * compiles and optimizes its graphs meanwhile, and loadDataset then takes the arrays (Fashion-MNIST's
 * 220 MB read into fresh memory took 0.34 s of page faults and copying on this thread). Resolves when
 * the reads are done, with a function that drops what loadDataset did not take (call it when the load
 * will not happen); never rejects (loadDataset reports any problem).
 */
export async function prefetchDataset(spec: DatasetSpec, files: DataFiles = nodeFiles): Promise<() => void> {
  const cache = files.cache;
  if (!cache?.prefetch) return () => {};
  const entries: [string, string[], string][] = [];
  if (spec.kind === "idx") {
    entries.push(["idx", [spec.images, spec.labels], ""]);
    if (spec.testImages !== undefined && spec.testLabels !== undefined)
      entries.push(["idx", [spec.testImages, spec.testLabels], ""]);
  } else if (spec.kind === "cifar10") {
    entries.push(["cifar10", spec.files, ""]);
    if (spec.testFiles) entries.push(["cifar10", spec.testFiles, ""]);
  } else if (spec.kind === "synthetic") {
    const key = syntheticCacheKey(spec);
    if (key) entries.push(["synthetic", [], key]);
  }
  const drops = await Promise.all(
    entries.map(([kind, sources, key]) => cache.prefetch?.(kind, sources, key)),
  );
  return () => {
    for (const drop of drops) drop?.();
  };
}

function loadSource(
  spec: DatasetSpec,
  files: DataFiles,
  threads: number | undefined,
): { main: Loaded; test: Loaded | null } {
  switch (spec.kind) {
    case "synthetic": {
      const generate = () => generateSynthetic(spec.samples, spec.shape, spec.classes, spec.seed, threads);
      // A large set is read back from the cache: 98M values take seconds of CPU to generate (one log
      // and one cos each) and a fraction of that to read. The key is everything the values depend on.
      const key = syntheticCacheKey(spec);
      return { main: key ? cachedDecode(files, "synthetic", [], generate, key) : generate(), test: null };
    }
    case "blobs":
      return {
        main: generateBlobs(spec.samples, spec.shape, spec.classes, spec.spread, spec.seed),
        test: null,
      };
    case "mnist": {
      const main = loadMnist(files);
      if (spec.rows) main.x = { ...main.x, shape: [28, 28] };
      return { main, test: null };
    }
    case "text":
      throw new Error("internal: text datasets load through loadText");
    case "idx":
      return {
        main: loadIdx(files, spec.images, spec.labels),
        test:
          spec.testImages !== undefined && spec.testLabels !== undefined
            ? loadIdx(files, spec.testImages, spec.testLabels)
            : null,
      };
    case "cifar10": {
      const read = (list: string[]) =>
        cachedDecode(files, "cifar10", list, () => ({
          ...parseCifar10(list.map((name) => ({ name, bytes: files.readBytes(name) }))),
          range: "byte" as const,
        }));
      return { main: read(spec.files), test: spec.testFiles ? read(spec.testFiles) : null };
    }
    case "csv": {
      const opts = { labelColumn: spec.labelColumn, header: spec.header, delimiter: spec.delimiter };
      const read = (path: string) => ({
        ...parseCsv(files.readText(path), opts, path),
        range: "free" as const,
      });
      return { main: read(spec.path), test: spec.testPath ? read(spec.testPath) : null };
    }
  }
}

function toSplit(l: Loaded): Split {
  return {
    count: l.x.count,
    shape: l.x.shape,
    features: l.x.shape.reduce((a, b) => a * b, 1),
    x: l.x.data,
    y: l.y,
  };
}

/** The samples at `indices` (kept in the given order). */
export function subset(s: Split, indices: ArrayLike<number>): Split {
  const n = indices.length * s.features;
  const x = s.x instanceof Uint8Array ? new Uint8Array(n) : new Float32Array(n);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    x.set(s.x.subarray(j * s.features, (j + 1) * s.features), i * s.features);
    y[i] = s.y[j];
  }
  return { count: indices.length, shape: s.shape, features: s.features, x, y };
}

function sortedHead(p: Uint32Array, n: number): Uint32Array {
  return p.slice(0, n).sort();
}

function computeStats(kind: Normalization, range: Loaded["range"], s: Split): NormalizationStats {
  const rank = s.shape.length;
  if (kind === "none" || (kind === "scale" && range !== "free")) {
    return { kind, groups: "global", shift: [0], divide: [kind === "scale" && range === "byte" ? 255 : 1] };
  }
  // Per channel for images ([C,H,W] or [H,W] as one channel), per feature for vectors.
  const groups: NormalizationStats["groups"] =
    kind === "scale" || rank === 1 ? "feature" : rank === 2 ? "global" : "channel";
  const nGroups = groups === "feature" ? s.features : groups === "channel" ? s.shape[0] : 1;
  const per = s.features / nGroups;
  const group = (f: number) => (groups === "feature" ? f : Math.floor(f / per));
  const shift = new Array<number>(nGroups).fill(0);
  const divide = new Array<number>(nGroups).fill(1);
  if (kind === "scale") {
    // Min-max to [0,1] per feature with the training split's range (constant features map to 0).
    const lo = new Array<number>(nGroups).fill(Number.POSITIVE_INFINITY);
    const hi = new Array<number>(nGroups).fill(Number.NEGATIVE_INFINITY);
    for (let i = 0; i < s.count; i++) {
      for (let f = 0; f < s.features; f++) {
        const v = s.x[i * s.features + f];
        if (v < lo[f]) lo[f] = v;
        if (v > hi[f]) hi[f] = v;
      }
    }
    for (let g = 0; g < nGroups; g++) {
      shift[g] = lo[g];
      divide[g] = hi[g] > lo[g] ? hi[g] - lo[g] : 1;
    }
  } else {
    // Standardize: mean and population std in float64 (two passes for accuracy).
    const sum = new Float64Array(nGroups);
    for (let i = 0; i < s.count; i++) {
      for (let f = 0; f < s.features; f++) sum[group(f)] += s.x[i * s.features + f];
    }
    const n = s.count * per;
    for (let g = 0; g < nGroups; g++) shift[g] = sum[g] / n;
    const sq = new Float64Array(nGroups);
    for (let i = 0; i < s.count; i++) {
      for (let f = 0; f < s.features; f++) {
        const d = s.x[i * s.features + f] - shift[group(f)];
        sq[group(f)] += d * d;
      }
    }
    for (let g = 0; g < nGroups; g++) {
      const sd = Math.sqrt(sq[g] / n);
      divide[g] = sd > 1e-12 ? sd : 1;
    }
  }
  return { kind, groups, shift, divide };
}

/** Byte samples whose table would exceed this many entries (or the samples' own count) become floats. */
const BYTE_TABLE_LIMIT = 1 << 22;

/**
 * Applies x' = (x - shift) / divide: in place to floats; to byte samples as their table (see Split),
 * unless the table would be larger than the samples (per-feature groups over few samples).
 */
export function applyNormalization(stats: NormalizationStats, s: Split): void {
  const nGroups = stats.shift.length;
  if (s.x instanceof Uint8Array) {
    const entries = nGroups * 256;
    if (entries <= BYTE_TABLE_LIMIT && entries <= s.x.length) {
      const table = new Float32Array(entries);
      for (let g = 0; g < nGroups; g++)
        for (let v = 0; v < 256; v++) table[g * 256 + v] = (v - stats.shift[g]) / stats.divide[g];
      const per = s.features / nGroups;
      s.bytes = { table, per, decoder: byteDecoder(table, s.features, per) };
      return;
    }
    s.x = new Float32Array(s.x);
  }
  const x = s.x;
  if (stats.shift.every((v) => v === 0) && stats.divide.every((v) => v === 1)) return;
  if (nGroups === 1) {
    // one group (scale ÷ 255, a global standardization): a single tight loop
    const [shift, divide] = [stats.shift[0], stats.divide[0]];
    for (let o = 0; o < x.length; o++) x[o] = (x[o] - shift) / divide;
    return;
  }
  const per = s.features / nGroups;
  for (let i = 0; i < s.count; i++) {
    for (let f = 0; f < s.features; f++) {
      const g = stats.groups === "feature" ? f : stats.groups === "channel" ? Math.floor(f / per) : 0;
      const o = i * s.features + f;
      x[o] = (x[o] - stats.shift[g]) / stats.divide[g];
    }
  }
}

/** Loads a validated spec into normalized train/validation splits. */
export function loadDataset(spec: DatasetSpec, options: LoadOptions = {}): Dataset {
  const files = options.files ?? nodeFiles;
  const fraction = options.validation ?? 0;
  if (!Number.isFinite(fraction) || fraction < 0 || fraction > 0.5) {
    throw new Error(`validation fraction must be between 0 and 0.5, got ${fraction}`);
  }
  if (spec.kind === "text") return loadText(spec, files, fraction);
  const { main, test } = loadSource(spec, files, options.threads);
  if (test && test.x.shape.join("x") !== main.x.shape.join("x")) {
    throw new Error(
      `dataset test files have sample shape [${test.x.shape.join(", ")}] but the training files have [${main.x.shape.join(", ")}]`,
    );
  }
  let train = toSplit(main);
  if (spec.limit !== undefined && spec.limit < train.count) {
    train = subset(train, sortedHead(permutation(train.count, deriveSeed(spec.seed, "limit")), spec.limit));
  }
  let validation: Split | null = null;
  let validationSource: Dataset["validationSource"] = "none";
  if (test) {
    validation = toSplit(test);
    validationSource = "files";
  } else if (fraction > 0) {
    const nVal = Math.round(train.count * fraction);
    if (nVal >= 1 && nVal < train.count) {
      // One seeded permutation: its head is validation, the rest training, each kept in file order.
      const p = permutation(train.count, deriveSeed(spec.seed, "split"));
      validation = subset(train, sortedHead(p, nVal));
      train = subset(train, p.slice(nVal).sort());
      validationSource = "fraction";
    }
  }
  let classes = 0;
  for (const s of [train, validation]) if (s) for (const v of s.y) classes = Math.max(classes, v + 1);
  if ("classes" in spec && spec.classes !== undefined) {
    if (classes > spec.classes) {
      throw new Error(
        `dataset has label ${classes - 1} but dataset.classes is ${spec.classes} (labels must be < classes)`,
      );
    }
    classes = spec.classes;
  } else if (spec.kind === "mnist" || spec.kind === "cifar10") {
    classes = 10;
  }
  const normalization = computeStats(spec.normalize, main.range, train);
  applyNormalization(normalization, train);
  if (validation) applyNormalization(normalization, validation);
  return { spec, shape: train.shape, classes, train, validation, validationSource, normalization };
}

/** A JSON-able description of a loaded dataset (for the API and run records). */
export function summarizeDataset(d: Dataset): {
  kind: DatasetSpec["kind"];
  shape: number[];
  classes: number;
  trainSamples: number;
  validationSamples: number;
  validationSource: Dataset["validationSource"];
  normalization: NormalizationStats;
  vocabulary?: string[];
} {
  return {
    kind: d.spec.kind,
    shape: d.shape,
    classes: d.classes,
    trainSamples: d.train.count,
    validationSamples: d.validation?.count ?? 0,
    validationSource: d.validationSource,
    normalization: d.normalization,
    ...(d.vocabulary ? { vocabulary: d.vocabulary } : {}),
  };
}

/**
 * Checks that samples of `shape` fit a model input whose dims are [batch, ...]; dims given as strings
 * or null are dynamic and match anything.
 */
export function checkInputShape(
  shape: readonly number[],
  modelInput: readonly (number | string | null)[],
  inputName = "input",
): void {
  // An input without shape information (ORT reports []) cannot be checked here; the session will.
  if (modelInput.length === 0) return;
  const sample = modelInput.slice(1);
  const ok =
    sample.length === shape.length && sample.every((d, i) => typeof d !== "number" || d === shape[i]);
  if (ok) return;
  const fmt = (d: readonly (number | string | null)[]) =>
    `[${d.map((v) => (v === null ? "?" : String(v))).join(", ")}]`;
  const nData = shape.reduce((a, b) => a * b, 1);
  const nModel = sample.every((d) => typeof d === "number")
    ? (sample as number[]).reduce((a, b) => a * b, 1)
    : -1;
  const hint =
    nData === nModel
      ? "; the element counts agree, so the model needs a Flatten/Reshape at its input, or a dataset of that shape"
      : "";
  throw new Error(
    `dataset samples have shape ${fmt(shape)} but model input "${inputName}" expects ${fmt(sample)} per sample (input dims ${fmt(modelInput)})${hint}`,
  );
}
