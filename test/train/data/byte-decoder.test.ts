import { describe, expect, it } from "vitest";
import { byteDecoder } from "../../../src/train/data/byte-decoder.ts";
import { applyNormalization, readSample, type Split } from "../../../src/train/data/load.ts";
import { Rng } from "../../../src/train/data/prng.ts";

/** Bytes of `count` samples and a table of `groups` × 256 distinct floats (negative and positive). */
function fixture(count: number, features: number, groups: number, seed: number) {
  const r = new Rng(seed);
  const bytes = Uint8Array.from({ length: count * features }, () => r.int(256));
  const table = Float32Array.from({ length: groups * 256 }, () => (r.uniform() - 0.3) * 7);
  return { bytes, table };
}

/** The first position whose 32-bit patterns differ, or null (a diff of 100,000 floats takes minutes). */
function firstDifference(a: Float32Array, b: Float32Array): string | null {
  const [x, y] = [
    new Uint32Array(a.buffer, a.byteOffset, a.length),
    new Uint32Array(b.buffer, b.byteOffset, b.length),
  ];
  if (x.length !== y.length) return `lengths ${x.length} and ${y.length}`;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `at ${i}: ${a[i]} against ${b[i]}`;
  return null;
}

describe("byte decoder (WebAssembly)", () => {
  // one global group (Fashion-MNIST scaled), one per channel (CIFAR standardized), one per feature
  const cases = [
    { features: 784, groups: 1 },
    { features: 3 * 32 * 32, groups: 3 },
    { features: 6, groups: 6 },
  ];
  for (const { features, groups } of cases) {
    it(`reads every sample as the JS table lookup does, bit for bit (${features} features, ${groups} group${groups > 1 ? "s" : ""})`, () => {
      const count = 40;
      const per = features / groups;
      const { bytes, table } = fixture(count, features, groups, features + groups);
      const decoder = byteDecoder(table, features, per);
      if (!decoder) throw new Error("no WebAssembly decoder in this Node");
      const original = bytes.slice();
      // Into the middle of a larger array, in shuffled order: what the trainer's batch gather does.
      const dst = new Float32Array((count + 2) * features).fill(-1234.5);
      const order = Array.from({ length: count }, (_, i) => (i * 17) % count);
      order.forEach((j, i) => {
        decoder.read(bytes, j, dst, (i + 1) * features);
      });
      expect(bytes).toEqual(original);
      const expected = new Float32Array(dst.length).fill(-1234.5);
      order.forEach((j, i) => {
        for (let q = 0; q < features; q++)
          expected[(i + 1) * features + q] = table[Math.floor(q / per) * 256 + bytes[j * features + q]];
      });
      expect(firstDifference(dst, expected)).toBeNull();
    });
  }

  it("is what normalized byte samples are read through, with the same values as readSample's JS loop", () => {
    const { bytes } = fixture(300, 3 * 8 * 8, 1, 7);
    const split = (): Split => ({
      count: 300,
      shape: [3, 8, 8],
      features: 192,
      x: bytes.slice(),
      y: new Int32Array(300),
    });
    const stats = {
      kind: "standardize" as const,
      groups: "channel" as const,
      shift: [100.25, 127.5, 90],
      divide: [61.5, 70.125, 55.75],
    };
    const s = split();
    const x = s.x;
    applyNormalization(stats, s);
    if (!s.bytes?.decoder) throw new Error("byte samples were normalized without a decoder");
    // the samples stay where they are, as bytes (the decoder holds one sample at a time)
    expect(s.x).toBe(x);
    // the JS loop: the same split without its decoder
    const js: Split = { ...s, bytes: s.bytes && { ...s.bytes, decoder: null } };
    const [a, b] = [new Float32Array(192), new Float32Array(192)];
    for (let j = 0; j < 300; j++) {
      readSample(s, j, a, 0);
      readSample(js, j, b, 0);
      expect(firstDifference(a, b), `sample ${j}`).toBeNull();
    }
    // and both are (v − shift) / divide of the channel, rounded to float32 once
    for (let q = 0; q < 192; q++) {
      const g = Math.floor(q / 64);
      expect(a[q]).toBe(Math.fround((bytes[299 * 192 + q] - stats.shift[g]) / stats.divide[g]));
    }
  });
});
