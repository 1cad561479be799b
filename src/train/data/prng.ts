// Seeded pseudo-random numbers that give the same sequence on every machine.
//
// Generator: mulberry32 (Tommy Ettinger, public domain): a 32-bit state advanced by a Weyl increment
// and scrambled by two multiply-xorshift rounds. It uses only Math.imul, xor and shifts on 32-bit
// integers, so it is bit-exact across platforms and JS engines, and its whole state is one uint32
// (cheap to store in a checkpoint). Period 2^32, which is ample for datasets and shuffles.
//
// Uniform floats are u32 / 2^32 ∈ [0, 1). Gaussians use the Box-Muller transform on two uniforms,
// z = sqrt(-2 ln u1) · cos(2π u2), with u1 = (a + 0.5) / 2^32 so that ln never sees 0. Only the
// cosine branch is used (no cached spare), so each Gaussian consumes exactly two draws and the state
// stays a single integer. V8 computes Math.log/cos with its fdlibm port, so values agree across
// machines for the same Node major version.
//
// Independent streams (data, split, shuffle of epoch e, weights of model m) come from
// deriveSeed(seed, ...tags), a murmur3-style finalizer over the seed and tags, so that changing the
// number of epochs or samples never shifts another stream.

const TWO_POW_32 = 4294967296;

/** murmur3's fmix32: a bijective avalanche of a 32-bit integer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Folds a safe integer (possibly negative or above 2^32) into 32 bits without losing its high part. */
function foldInteger(value: number): number {
  if (!Number.isSafeInteger(value)) throw new Error(`seed must be a safe integer, got ${value}`);
  const lo = value >>> 0;
  const hi = Math.floor(value / TWO_POW_32) >>> 0;
  return fmix32(lo ^ fmix32(hi + 0x9e3779b9));
}

function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A 32-bit seed for an independent stream identified by `tags` under `seed`. */
export function deriveSeed(seed: number, ...tags: (number | string)[]): number {
  let h = foldInteger(seed);
  for (const tag of tags) {
    const t = typeof tag === "number" ? foldInteger(tag) : hashString(tag);
    h = fmix32((h ^ t) + 0x6d2b79f5 + ((h << 6) >>> 0));
  }
  return h >>> 0;
}

export class Rng {
  /** The whole generator state (uint32); assign it to restore a saved position. */
  state: number;

  constructor(seed: number) {
    this.state = foldInteger(seed);
  }

  /** Next uint32 (mulberry32). */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n), unbiased (rejection of the short last bucket). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32)
      throw new Error(`int(n) needs 1 ≤ n ≤ 2^32, got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal N(0, 1) by Box-Muller (cosine branch). */
  gaussian(): number {
    const u1 = (this.nextU32() + 0.5) / TWO_POW_32;
    const u2 = this.nextU32() / TWO_POW_32;
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** In-place Fisher-Yates shuffle (Durstenfeld), consuming one int() per position. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }
}

/** A seeded permutation of 0..n-1. */
/**
 * Uniform [0, 1) draws from mulberry32 started at exactly `seed >>> 0` (no folding), for callers that
 * need a plain stream of numbers rather than an Rng: sweep sampling, test data.
 */
export function mulberry32(seed: number): () => number {
  const rng = new Rng(0);
  rng.state = seed >>> 0;
  return () => rng.uniform();
}

export function permutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return new Rng(seed).shuffle(p);
}
