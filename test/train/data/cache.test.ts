import { createHash } from "node:crypto";
// The decoded-dataset cache (src/train/data/files.ts): a second load reads the cache instead of the
// sources, a changed source is decoded again, and a damaged cache file is never trusted.
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { type DataFiles, type DecodedCache, decodedCache, nodeFiles } from "../../../src/train/data/files.ts";
import { encodeIdx } from "../../../src/train/data/formats.ts";
import {
  loadDataset,
  prefetchDataset,
  readSamples,
  SYNTHETIC_CACHE_MIN_BYTES,
} from "../../../src/train/data/load.ts";
import { parseDatasetSpec, validateDatasetSpec } from "../../../src/train/data/spec.ts";

const root = mkdtempSync(join(tmpdir(), "gradstream-cache-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** 50 gzipped 4×4 IDX images whose pixels depend on `salt`, and their labels. */
function writeIdx(dir: string, salt: number): { images: string; labels: string } {
  const pixels = Uint8Array.from({ length: 50 * 16 }, (_, i) => (i * 7 + salt) % 256);
  const labels = Uint8Array.from({ length: 50 }, (_, i) => (i + salt) % 3);
  const images = join(dir, "img.idx.gz");
  const lab = join(dir, "lab.idx");
  writeFileSync(images, gzipSync(encodeIdx([50, 4, 4], pixels)));
  writeFileSync(lab, encodeIdx([50], labels));
  return { images, labels: lab };
}

/** Node's files with a cache in `cacheDir` (no size threshold) that counts source reads. */
function countingFiles(cacheDir: string): DataFiles & { reads: string[] } {
  const reads: string[] = [];
  return {
    ...nodeFiles,
    readBytes: (path) => {
      reads.push(path);
      return nodeFiles.readBytes(path);
    },
    cache: decodedCache(cacheDir, 0),
    reads,
  };
}

const sha256 = (a: Float32Array | Int32Array | Uint8Array | undefined) =>
  a
    ? createHash("sha256")
        .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
        .digest("hex")
    : "none";

/** A fresh cache folder for one test. */
function setup(name: string): { cacheDir: string } {
  return { cacheDir: join(root, name, "cache") };
}

/**
 * Spoils the arrays of the cache folder's one entry (the header stays): a load that reads them fails
 * its checksum.
 */
function spoilArrays(cacheDir: string): void {
  const [name] = readdirSync(cacheDir);
  const file = join(cacheDir, name);
  const bytes = readFileSync(file);
  bytes.fill(0x7f, bytes.length - 256);
  writeFileSync(file, bytes);
}

describe("decoded-dataset cache", () => {
  it("a second load reads the cache, not the sources, and gives the same dataset", () => {
    const { cacheDir } = setup("hit");
    const src = mkdtempSync(join(root, "hit-src-"));
    const spec = validateDatasetSpec({ kind: "idx", ...writeIdx(src, 1) });
    const first = countingFiles(cacheDir);
    const a = loadDataset(spec, { files: first });
    expect(first.reads).toHaveLength(2);
    expect(readdirSync(cacheDir)).toHaveLength(1);
    const second = countingFiles(cacheDir);
    const b = loadDataset(spec, { files: second });
    expect(second.reads).toEqual([]);
    expect(b.train.x).toEqual(a.train.x);
    expect(b.train.y).toEqual(a.train.y);
    expect(b.shape).toEqual([1, 4, 4]);
    expect(b.normalization).toEqual(a.normalization);
    // and the same as without any cache
    const { cache: _none, ...plain } = nodeFiles;
    expect(loadDataset(spec, { files: plain }).train.x).toEqual(b.train.x);
  });

  it("arrays read ahead by prefetchDataset are what the next load takes, checked as a read would be", async () => {
    const { cacheDir } = setup("ahead");
    const src = mkdtempSync(join(root, "ahead-src-"));
    const spec = validateDatasetSpec({ kind: "idx", ...writeIdx(src, 5) });
    const good = loadDataset(spec, { files: countingFiles(cacheDir) });
    const files = countingFiles(cacheDir);
    await prefetchDataset(spec, files);
    spoilArrays(cacheDir);
    const d = loadDataset(spec, { files });
    expect(files.reads).toEqual([]);
    expect(d.train.x).toEqual(good.train.x);
    expect(d.train.y).toEqual(good.train.y);
    // taken once: the next load reads the spoiled file, rejects it and decodes the sources
    const again = countingFiles(cacheDir);
    expect(loadDataset(spec, { files: again }).train.x).toEqual(good.train.x);
    expect(again.reads).toHaveLength(2);
  });

  it("arrays read ahead and then dropped are not used (a trainer that failed before loading)", async () => {
    const { cacheDir } = setup("ahead-dropped");
    const src = mkdtempSync(join(root, "ahead-dropped-src-"));
    const spec = validateDatasetSpec({ kind: "idx", ...writeIdx(src, 8) });
    const good = loadDataset(spec, { files: countingFiles(cacheDir) });
    const files = countingFiles(cacheDir);
    const drop = await prefetchDataset(spec, files);
    drop();
    spoilArrays(cacheDir);
    // the spoiled arrays are read from disk, fail their checksum, and the sources are decoded
    expect(loadDataset(spec, { files }).train.x).toEqual(good.train.x);
    expect(files.reads).toHaveLength(2);
  });

  it("arrays read ahead of a source that then changed are not used", async () => {
    const { cacheDir } = setup("ahead-stale");
    const src = mkdtempSync(join(root, "ahead-stale-src-"));
    const spec = validateDatasetSpec({ kind: "idx", ...writeIdx(src, 6) });
    loadDataset(spec, { files: countingFiles(cacheDir) });
    const files = countingFiles(cacheDir);
    await prefetchDataset(spec, files);
    const changed = writeIdx(src, 7);
    utimesSync(changed.images, new Date(2001, 1, 1), new Date(2001, 1, 1));
    const d = loadDataset(spec, { files });
    expect(files.reads).toHaveLength(2);
    const { cache: _none, ...plain } = nodeFiles;
    expect(d.train.x).toEqual(loadDataset(spec, { files: plain }).train.x);
  });

  it("a changed source is decoded again (size, mtime or inode differ)", () => {
    const { cacheDir } = setup("stale");
    const src = mkdtempSync(join(root, "stale-src-"));
    const spec = validateDatasetSpec({ kind: "idx", ...writeIdx(src, 1) });
    const before = loadDataset(spec, { files: countingFiles(cacheDir) });
    // same size, new content, and an mtime set apart so that the change cannot hide in one tick
    writeIdx(src, 2);
    const later = new Date(Date.now() + 5_000);
    if (spec.kind !== "idx") throw new Error("unreachable");
    utimesSync(spec.images, later, later);
    const files = countingFiles(cacheDir);
    const after = loadDataset(spec, { files });
    expect(files.reads.length).toBeGreaterThan(0);
    expect(after.train.x).not.toEqual(before.train.x);
    expect(readSamples(after.train, 0, 1)[0]).toBe(Math.fround(2 / 255));
    // the cache now holds the new decode
    const again = countingFiles(cacheDir);
    expect(loadDataset(spec, { files: again }).train.x).toEqual(after.train.x);
    expect(again.reads).toEqual([]);
  });

  const damage: [string, (bytes: Buffer) => Buffer][] = [
    [
      "one changed value",
      (b) => {
        const c = Buffer.from(b);
        c[c.length - 200] ^= 0x40;
        return c;
      },
    ],
    ["a truncated file", (b) => b.subarray(0, b.length - 64)],
    [
      "a header that is not JSON",
      (b) => {
        const c = Buffer.from(b);
        c.write("}{", 8);
        return c;
      },
    ],
    ["garbage", (b) => Buffer.alloc(b.length, 0xab)],
    ["an empty file", () => Buffer.alloc(0)],
  ];
  for (const [what, spoil] of damage) {
    it(`a cache file with ${what} is ignored and rewritten`, () => {
      const { cacheDir } = setup(`damaged-${what.replace(/\W/g, "")}`);
      const src = mkdtempSync(join(root, "damaged-src-"));
      const spec = validateDatasetSpec({ kind: "idx", ...writeIdx(src, 3) });
      const good = loadDataset(spec, { files: countingFiles(cacheDir) });
      const [name] = readdirSync(cacheDir);
      const file = join(cacheDir, name);
      writeFileSync(file, spoil(readFileSync(file)));
      const files = countingFiles(cacheDir);
      const d = loadDataset(spec, { files });
      expect(files.reads).toHaveLength(2);
      expect(d.train.x).toEqual(good.train.x);
      expect(d.train.y).toEqual(good.train.y);
      // rewritten: the next load hits again
      const again = countingFiles(cacheDir);
      loadDataset(spec, { files: again });
      expect(again.reads).toEqual([]);
    });
  }

  it("small decodes are not cached under the default threshold", () => {
    const cacheDir = join(root, "threshold");
    const src = mkdtempSync(join(root, "threshold-src-"));
    const spec = validateDatasetSpec({ kind: "idx", ...writeIdx(src, 4) });
    loadDataset(spec, { files: { ...nodeFiles, cache: decodedCache(cacheDir) } });
    expect(() => readdirSync(cacheDir)).toThrow();
  });

  it("a large synthetic set is generated once and read back with the same values", () => {
    const cacheDir = join(root, "synthetic");
    const hits: boolean[] = [];
    const inner = decodedCache(cacheDir);
    const cache: DecodedCache = {
      get: (...args) => {
        const r = inner.get(...args);
        hits.push(r !== null);
        return r;
      },
      put: (...args) => inner.put(...args),
    };
    // 5,462 × 3×32×32 float32 = 64.0 MiB: just past the threshold
    const spec = parseDatasetSpec(
      "synthetic:samples=5462,shape=3x32x32,classes=10,seed=3,normalize=standardize",
    );
    expect(5462 * 3072 * 4).toBeGreaterThanOrEqual(SYNTHETIC_CACHE_MIN_BYTES);
    const a = loadDataset(spec, { files: { ...nodeFiles, cache }, validation: 0.1 });
    const b = loadDataset(spec, { files: { ...nodeFiles, cache }, validation: 0.1 });
    expect(hits).toEqual([false, true]);
    // (hashes: a deep toEqual of 16M elements takes gigabytes)
    expect(sha256(b.train.x)).toBe(sha256(a.train.x));
    expect(sha256(b.validation?.x)).toBe(sha256(a.validation?.x));
    expect(sha256(b.train.y)).toBe(sha256(a.train.y));
    // another seed is another entry, not the cached one
    const other = loadDataset(parseDatasetSpec("synthetic:samples=5462,shape=3x32x32,classes=10,seed=4"), {
      files: { ...nodeFiles, cache },
    });
    expect(hits).toEqual([false, true, false]);
    expect(other.train.x[0]).not.toBe(a.train.x[0]);
    expect(readdirSync(cacheDir)).toHaveLength(2);
  });

  it("deletes entries another cache version wrote when it next stores one", () => {
    const cacheDir = join(root, "versions");
    const cache = decodedCache(cacheDir, 0);
    const entry = (v: number) => ({ meta: {}, arrays: { x: new Uint8Array(1_000).fill(v) } });
    cache.put("t", [], entry(1), "old");
    const [file] = readdirSync(cacheDir);
    // as an older gradstream wrote it: the same bytes but the header's version
    const bytes = readFileSync(join(cacheDir, file));
    const at = bytes.indexOf('"version":');
    expect(at).toBeGreaterThan(0);
    bytes.write('"version":1,', at, "latin1");
    writeFileSync(join(cacheDir, file), bytes);
    expect(cache.get("t", [], "old")).toBeNull();
    expect(readdirSync(cacheDir)).toEqual([file]);
    cache.put("t", [], entry(2), "new");
    expect(readdirSync(cacheDir)).toHaveLength(1);
    expect(readdirSync(cacheDir)).not.toContain(file);
    expect(cache.get("t", [], "new")?.arrays.x).toEqual(new Uint8Array(1_000).fill(2));
  });

  it("past its size limit the cache deletes the files used longest ago", () => {
    const cacheDir = join(root, "limit");
    // room for two 40 KB entries, not three
    const cache = decodedCache(cacheDir, 0, 100_000);
    const entry = (v: number) => ({ meta: {}, arrays: { x: new Float32Array(10_000).fill(v) } });
    cache.put("t", [], entry(1), "a");
    cache.put("t", [], entry(2), "b");
    // a hit marks "a" as used, so "b" is now the oldest
    const old = new Date(Date.now() - 60_000);
    for (const f of readdirSync(cacheDir)) utimesSync(join(cacheDir, f), old, old);
    expect(cache.get("t", [], "a")?.arrays.x[0]).toBe(1);
    cache.put("t", [], entry(3), "c");
    expect(readdirSync(cacheDir)).toHaveLength(2);
    expect(cache.get("t", [], "b")).toBeNull();
    expect(cache.get("t", [], "a")?.arrays.x[0]).toBe(1);
    expect(cache.get("t", [], "c")?.arrays.x[0]).toBe(3);
  });
});
