import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { gaussianArray, PARALLEL_MIN_VALUES, stateAtValue } from "../../../src/train/data/gaussian.ts";
import { loadDataset } from "../../../src/train/data/load.ts";
import { deriveSeed, Rng } from "../../../src/train/data/prng.ts";
import { parseDatasetSpec } from "../../../src/train/data/spec.ts";

const sha256 = (a: Float32Array | Int32Array | Uint8Array) =>
  createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex");

// Every constant below was printed by the generator before it was rewritten (a Rng.gaussian() call per
// value, src/train/data/load.ts at e183aab): the datasets must not change under anyone's feet.
describe("synthetic data is what it always was", () => {
  it("synthetic: values, labels and the hash of every byte", () => {
    const d = loadDataset(parseDatasetSpec("synthetic:samples=1000,shape=3x4x5,classes=7,seed=42"));
    expect([0, 1, 2, 59, 60, 12345, 59999].map((i) => d.train.x[i])).toEqual([
      1.3607653379440308, 0.459511935710907, -1.4855355024337769, 0.2494617998600006, 0.7577090859413147,
      -0.3822881579399109, -1.4817296266555786,
    ]);
    expect([0, 1, 2, 500, 999].map((i) => d.train.y[i])).toEqual([1, 3, 5, 1, 2]);
    expect(sha256(d.train.x)).toBe("634a37139649206dc8c673850abee72708d3e550400b079ee0ac3fb518252ba2");
    expect(sha256(d.train.y)).toBe("82e550a4f0392947a2474378145edada0eb9ce5f22652d4be3d15432e8306285");
  });

  it("blobs: center + spread·z rounded once, as before", () => {
    const d = loadDataset(parseDatasetSpec("blobs:samples=500,shape=6,classes=3,spread=0.5,seed=7"));
    expect([0, 1, 5, 6, 1234, 2999].map((i) => d.train.x[i])).toEqual([
      -0.18991969525814056, 0.7676188945770264, -0.25584471225738525, 0.6741219758987427, 0.08066801726818085,
      0.42333003878593445,
    ]);
    expect(sha256(d.train.x)).toBe("c335dcb6c9ff83ff2ac5d9f50da4149838976bd7e155ee090e6e54d75a5f3e41");
    expect(sha256(d.train.y)).toBe("08a2a6194764cc3e04f12f2d301d2c2646b7c77cd31710cce02d65458e7a4581");
  });

  it("a validation split of synthetic data", () => {
    const d = loadDataset(parseDatasetSpec("synthetic:samples=100,shape=10,classes=2"), { validation: 0.2 });
    expect([d.train.x[0], d.train.x[799]]).toEqual([-0.2988927364349365, 0.6866416335105896]);
    expect([d.validation?.x[0], d.validation?.x[199]]).toEqual([0.2914204001426697, -0.826522171497345]);
  });

  // 6.1M values: above PARALLEL_MIN_VALUES, so worker threads generate blocks of it
  const big = "synthetic:samples=2000,shape=3x32x32,classes=10";
  const bigHash = "6f3bd15af10d81d51b8090d6a7a7de12b64eeae79dc4214796ea4144ac1f16f0";
  it("a large set is the same on 1, 2 and 4 threads", () => {
    expect(2000 * 3072).toBeGreaterThan(PARALLEL_MIN_VALUES);
    for (const threads of [1, 2, 4]) {
      const d = loadDataset(parseDatasetSpec(big), { threads });
      expect([0, 3071, 3072, 6143999].map((i) => d.train.x[i])).toEqual([
        -0.2988927364349365, 0.6590701341629028, -0.22155627608299255, 0.2896401286125183,
      ]);
      expect(sha256(d.train.x), `threads ${threads}`).toBe(bigHash);
      expect(sha256(d.train.y)).toBe("83ff9ef4d4825ae8b339cfeb249647e4eda59d7aaa0482628a64ced5eb8fe192");
    }
  });
});

describe("gaussianArray", () => {
  it("equals successive Rng.gaussian() calls and leaves the Rng where they would", () => {
    for (const n of [0, 1, 7, 1000]) {
      const a = new Rng(deriveSeed(3, "features"));
      const b = new Rng(deriveSeed(3, "features"));
      const fast = gaussianArray(a, n, 1);
      const slow = Float32Array.from({ length: n }, () => b.gaussian());
      expect(fast).toEqual(slow);
      expect(a.state).toBe(b.state);
      expect(a.gaussian()).toBe(b.gaussian());
    }
  });

  it("jumps ahead: the state before value v is that after 2v draws", () => {
    const r = new Rng(11);
    const s0 = r.state;
    for (let v = 0; v < 50; v++) {
      expect(stateAtValue(s0, v)).toBe(r.state);
      r.nextU32();
      r.nextU32();
    }
    // beyond 2^31 draws the product wraps modulo 2^32 like the state does
    expect(stateAtValue(s0, 2 ** 32)).toBe(s0);
    expect(stateAtValue(s0, 2 ** 31 + 5)).toBe(stateAtValue(s0, 5));
  });

  it("a large array from worker threads equals the one-thread array, state included", () => {
    const n = PARALLEL_MIN_VALUES + 12_345;
    const one = new Rng(5);
    const many = new Rng(5);
    const a = gaussianArray(one, n, 1);
    const report = { helpers: 0, failed: true };
    const b = gaussianArray(many, n, 3, report);
    expect(report).toEqual({ helpers: 2, failed: false });
    expect(b.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(sha256(b)).toBe(sha256(a));
    expect(many.state).toBe(one.state);
  });

  it("workers that fail leave their blocks to this thread: same values, in a private copy", () => {
    const n = PARALLEL_MIN_VALUES + 777;
    const a = gaussianArray(new Rng(9), n, 1);
    const report = { helpers: 0, failed: false, failWorkers: true };
    const b = gaussianArray(new Rng(9), n, 2, report);
    expect(report.failed).toBe(true);
    expect(b.buffer).toBeInstanceOf(ArrayBuffer);
    expect(sha256(b)).toBe(sha256(a));
  });
});
