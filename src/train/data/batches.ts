// Mini-batches in the order PyTorch's DataLoader(shuffle=True, drop_last=False) would give them: each
// epoch visits every sample once in a seeded random order, and the last batch keeps the remainder.
// The order of epoch e depends only on (seed, e), so any global step can be produced directly: a
// resumed run sees exactly the batches an uninterrupted run would, with no RNG state to carry.
import { readSample, type Split } from "./load.ts";
import { deriveSeed, permutation } from "./prng.ts";

export interface BatchOptions {
  batchSize: number;
  epochs: number;
  /** Run seed: epoch e is shuffled with deriveSeed(seed, "shuffle", e). */
  seed: number;
  /** Default true; false keeps the split's order every epoch (used for evaluation). */
  shuffle?: boolean;
  /** First global (run-relative, 0-based) step to produce; default 0. */
  startStep?: number;
}

export interface BatchPlan {
  samples: number;
  batchSize: number;
  epochs: number;
  batchesPerEpoch: number;
  /** Size of the final batch of every epoch (= batchSize when it divides the samples). */
  lastBatchSize: number;
  totalSteps: number;
}

export interface Batch {
  /** [size, ...shape] row-major. */
  x: Float32Array;
  /** [size] class indices as int64, as ONNX SoftmaxCrossEntropyLoss takes them. */
  y: BigInt64Array;
  /** Global 0-based step. */
  step: number;
  epoch: number;
  /** 0-based index of the batch within its epoch. */
  batchIndex: number;
  size: number;
}

export function planBatches(samples: number, batchSize: number, epochs: number): BatchPlan {
  if (!Number.isInteger(samples) || samples < 1)
    throw new Error(`the training set is empty (samples = ${samples})`);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > samples) {
    throw new Error(
      `batchSize must be an integer between 1 and the training set size ${samples}, got ${batchSize}`,
    );
  }
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new Error(`epochs must be an integer ≥ 1, got ${epochs}`);
  const batchesPerEpoch = Math.ceil(samples / batchSize);
  const lastBatchSize = samples - (batchesPerEpoch - 1) * batchSize;
  return { samples, batchSize, epochs, batchesPerEpoch, lastBatchSize, totalSteps: batchesPerEpoch * epochs };
}

/** The sample order of one epoch. */
export function epochOrder(samples: number, seed: number, epoch: number, shuffle = true): Uint32Array {
  if (!shuffle) return Uint32Array.from({ length: samples }, (_, i) => i);
  return permutation(samples, deriveSeed(seed, "shuffle", epoch));
}

function gather(
  split: Split,
  order: Uint32Array,
  start: number,
  size: number,
): { x: Float32Array; y: BigInt64Array } {
  const f = split.features;
  const x = new Float32Array(size * f);
  const y = new BigInt64Array(size);
  for (let i = 0; i < size; i++) {
    const j = order[start + i];
    readSample(split, j, x, i * f);
    y[i] = BigInt(split.y[j]);
  }
  return { x, y };
}

/** Batches from `startStep` to the end of the last epoch. */
export function* iterateBatches(split: Split, options: BatchOptions): Generator<Batch> {
  const plan = planBatches(split.count, options.batchSize, options.epochs);
  const start = options.startStep ?? 0;
  if (!Number.isInteger(start) || start < 0 || start > plan.totalSteps) {
    throw new Error(`startStep must be an integer between 0 and ${plan.totalSteps}, got ${start}`);
  }
  let cachedEpoch = -1;
  let order: Uint32Array = new Uint32Array(0);
  for (let step = start; step < plan.totalSteps; step++) {
    const epoch = Math.floor(step / plan.batchesPerEpoch);
    const batchIndex = step % plan.batchesPerEpoch;
    if (epoch !== cachedEpoch) {
      order = epochOrder(split.count, options.seed, epoch, options.shuffle ?? true);
      cachedEpoch = epoch;
    }
    const size = batchIndex === plan.batchesPerEpoch - 1 ? plan.lastBatchSize : plan.batchSize;
    const { x, y } = gather(split, order, batchIndex * plan.batchSize, size);
    yield { x, y, step, epoch, batchIndex, size };
  }
}

/** The batch at one global step. */
export function batchAt(split: Split, options: Omit<BatchOptions, "startStep">, step: number): Batch {
  const it = iterateBatches(split, { ...options, startStep: step });
  const r = it.next();
  if (r.done) throw new Error(`step ${step} is past the last step of the run`);
  return r.value;
}

/** K consecutive equal-size batches stacked into [K, B, ...shape] inputs and [K, B] labels. */
export interface Chunk {
  x: Float32Array;
  y: BigInt64Array;
  k: number;
  batchSize: number;
  firstStep: number;
  batches: Omit<Batch, "x" | "y">[];
}

export function stackBatches(batches: readonly Batch[]): Chunk {
  if (batches.length === 0) throw new Error("stackBatches needs at least one batch");
  const b = batches[0].size;
  const per = batches[0].x.length / b;
  const bad = batches.find((t) => t.size !== b);
  if (bad) {
    throw new Error(
      `stackBatches: batch at step ${bad.step} has ${bad.size} samples, the first has ${b}; a chunk needs equal sizes`,
    );
  }
  const x = new Float32Array(batches.length * b * per);
  const y = new BigInt64Array(batches.length * b);
  batches.forEach((t, i) => {
    x.set(t.x, i * b * per);
    y.set(t.y, i * b);
  });
  return {
    x,
    y,
    k: batches.length,
    batchSize: b,
    firstStep: batches[0].step,
    batches: batches.map(({ step, epoch, batchIndex, size }) => ({ step, epoch, batchIndex, size })),
  };
}

export interface ChunkOptions extends BatchOptions {
  /** At most this many batches per chunk. */
  k: number;
  /** End a chunk at each epoch's end (so evaluation can run between epochs); default true. */
  breakAtEpoch?: boolean;
}

/**
 * Chunks of up to K batches for one Loop run each. A chunk also ends before a batch of a different
 * size (the partial last batch of an epoch gets its own chunk, since a Loop's shapes are fixed) and,
 * by default, at the end of each epoch.
 */
export function* iterateChunks(split: Split, options: ChunkOptions): Generator<Chunk> {
  if (!Number.isInteger(options.k) || options.k < 1)
    throw new Error(`k must be an integer ≥ 1, got ${options.k}`);
  const breakAtEpoch = options.breakAtEpoch ?? true;
  let pending: Batch[] = [];
  for (const batch of iterateBatches(split, options)) {
    const prev = pending[pending.length - 1];
    if (prev && (prev.size !== batch.size || (breakAtEpoch && prev.epoch !== batch.epoch))) {
      yield stackBatches(pending);
      pending = [];
    }
    pending.push(batch);
    if (pending.length === options.k) {
      yield stackBatches(pending);
      pending = [];
    }
  }
  if (pending.length) yield stackBatches(pending);
}

/**
 * One pass over a split in its stored order for evaluation; the batch size is clamped to the split's
 * size, so a validation set smaller than the training batch still gets one batch.
 */
export function* evalBatches(split: Split, batchSize: number): Generator<Batch> {
  yield* iterateBatches(split, {
    batchSize: Math.min(batchSize, split.count),
    epochs: 1,
    seed: 0,
    shuffle: false,
  });
}
