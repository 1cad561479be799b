// The runner: a compiled model plus a dataset → a stream of per-batch metrics, K steps per session.run.
//
// One chunk = one run of the Loop graph over consecutive equal-size batches. A chunk ends at K steps,
// before the partial last batch of an epoch (a Loop's shapes are fixed per run), at every epoch's end
// (evaluation and the epoch summary follow), and at multiples of the evaluation and checkpoint
// intervals, so every boundary lands on the same step whatever K is. Parameters and optimizer state
// come back from each run and are fed to the next. The metrics are a pure function of (model, data,
// config, seed): K, the chunking and a resume from a checkpoint change none of them on CPU.
import type { EpochRow, TrainedRow } from "../db/types.ts";
import { type CompiledModel, compile } from "../graph/compile.ts";
import { checkDataFitsModel } from "./catalog.ts";
import {
  decodeCheckpoint,
  type EpochAccumulator,
  encodeCheckpoint,
  type NoiseProbeState,
} from "./checkpoint.ts";
import { type Provider, type RunConfig, RunConfigError, validateRunConfig } from "./config.ts";
import {
  type BatchPlan,
  type DataFiles,
  type Dataset,
  epochOrder,
  loadDataset,
  planBatches,
  prefetchDataset,
  readSample,
  readSamples,
  type Split,
} from "./data/index.ts";
import { int64From, setInt64 } from "./int64.ts";
import { NoiseProbe } from "./probe.ts";
import { lrAt } from "./schedule.ts";
import { createSession, defaultThreads, type HostTensor, type Session } from "./session.ts";
import { type SystemSample, startMeter } from "./system.ts";

export interface TrainJob {
  /** The forward model's ONNX bytes. */
  model: Uint8Array;
  /** A run configuration with its dataset (validated here with validateRunConfig). */
  config: unknown;
  /** A checkpoint from an earlier run of the same job to continue from. */
  checkpoint?: Uint8Array | null;
  /** Also checkpoint after every N steps (a chunk boundary is placed there); null = only at the end. */
  checkpointEvery?: number | null;
  /**
   * Also checkpoint at the first chunk end at least this many ms after the previous checkpoint (wall
   * time: when it fires varies, what it saves does not); null = never by time.
   */
  checkpointIntervalMs?: number | null;
  /** Cores this run may use (default all): synthetic data is generated on as many threads. */
  cores?: number;
  /** onnxruntime intra-op threads (default: `cores`, else every core this process may use). */
  threads?: number;
  /** Let idle onnxruntime threads spin (default true; false when runs share cores). */
  spinning?: boolean;
  /** false turns Dropout off while training (parity runs); default true. */
  dropout?: boolean;
  /** Samples per evaluation batch (default 256); the means are sample-weighted, so it does not matter. */
  evalBatchSize?: number;
  /**
   * Also snapshot the state at every evaluation point (every `validation.everySteps` steps and each
   * epoch end) as `TrainChunk.evalCheckpoint`: early stopping keeps the best one (default false).
   */
  checkpointAtEvaluations?: boolean;
}

export interface TrainInfo {
  provider: Provider;
  totalSteps: number;
  /** The first step this job runs (0, or the checkpoint's step). */
  startStep: number;
  epochs: number;
  batchesPerEpoch: number;
  batchSize: number;
  k: number;
  trainSamples: number;
  validationSamples: number;
  classes: number;
  parameterCount: number;
  /** onnxruntime intra-op threads of the training session. */
  threads: number;
}

export interface EvalResult {
  /** The last training step before the evaluation. */
  step: number;
  epoch: number;
  loss: number;
  accuracy: number;
  samples: number;
}

/** The database's EpochRow plus the spread of the epoch's batch losses. */
export interface EpochSummary extends EpochRow {
  trainLossStd: number;
  trainLossMin: number;
  trainLossMax: number;
}

export interface CheckpointBlob {
  /** Steps completed (the step a resume continues with). */
  step: number;
  epoch: number;
  state: Uint8Array;
}

export interface TrainChunk {
  /** One row per step, in step order. */
  rows: TrainedRow[];
  /** Set when the chunk ended an epoch. */
  epoch: EpochSummary | null;
  /** Evaluations that followed this chunk (every-N-steps and end-of-epoch). */
  evals: EvalResult[];
  /** Set when a checkpoint interval ended with this chunk. */
  checkpoint: CheckpointBlob | null;
  /**
   * The noise probe after this chunk (src/train/probe.ts): custom metric values for the row at `step`
   * (the chunk's last). Kept beside the rows so every transport of chunks carries it; the consumer puts
   * them on that row's `custom` (trainInline and the executor do).
   */
  noise?: { step: number; values: Record<string, number> } | null;
  /** With `checkpointAtEvaluations`: the state at this chunk's evaluation point, for the caller to keep or drop. */
  evalCheckpoint?: CheckpointBlob | null;
  /** CPU time, memory and wall-clock span of the chunk, measured in the trainer's process. */
  system?: SystemSample;
}

export interface TrainEnd {
  status: "completed" | "aborted";
  /** The last step trained, −1 when none. */
  lastStep: number;
  /** The state after the last step (always present, so an aborted run can resume). */
  checkpoint: CheckpointBlob;
}

/** The loss (or another per-step metric) stopped being finite. */
export class DivergenceError extends Error {
  override name = "DivergenceError";
  constructor(
    readonly step: number,
    readonly metric: string,
    readonly value: number,
  ) {
    super(`${metric} became ${value} at step ${step}`);
  }
}

interface Prepared {
  cfg: RunConfig;
  data: Dataset;
  compiled: CompiledModel;
  plan: BatchPlan;
  setupMs: SetupTimes;
}

/** Where a trainer's set-up time went (ms, wall clock), for `gradstream train --json` and benchmarks. */
export interface SetupTimes {
  /** Waiting for the dataset's cached arrays read ahead while compiling (what the overlap did not hide). */
  read: number;
  /** Reading (what was not read ahead), decoding or generating the dataset, splitting and normalizing it. */
  data: number;
  /** Compiling the forward model into the training graphs. */
  compile: number;
  /** onnxruntime session creation for the training Loop (its graph optimization). */
  session: number;
  /** The noise probe's graph and session. */
  probe: number;
}

/** The job's config validated without its data (everything but the batch size's upper bound). */
function firstConfig(job: TrainJob): RunConfig & { dataset: NonNullable<RunConfig["dataset"]> } {
  const first = validateRunConfig(job.config);
  if (!first.dataset)
    throw new RunConfigError("dataset", "dataset is required: a name, a spec string or a spec object");
  return { ...first, dataset: first.dataset };
}

/** The training graphs of the job's model (the optimizer, loss and seed do not depend on the data). */
function compileJob(job: TrainJob, cfg: RunConfig): CompiledModel {
  return compile(job.model, {
    optimizer: cfg.optimizer,
    loss: cfg.loss,
    seed: cfg.seed,
    dropout: job.dropout ?? true,
  });
}

/**
 * Validates the job against its data and model; throws RunConfigError / a shape error naming the problem.
 * `compiled`: the job's graphs when the caller compiled them already (Trainer.create, while the data was
 * read ahead).
 */
export function prepareJob(job: TrainJob, files?: DataFiles, compiled?: CompiledModel): Prepared {
  const first = firstConfig(job);
  const t0 = performance.now();
  // synthetic features are generated on as many threads as the run has cores
  const data = loadDataset(first.dataset, {
    validation: first.validation.fraction,
    files,
    ...(job.cores !== undefined ? { threads: job.cores } : {}),
  });
  const cfg = validateRunConfig(job.config, { trainSamples: data.train.count });
  const t1 = performance.now();
  compiled ??= compileJob(job, cfg);
  checkDataFitsModel(data, {
    inputName: compiled.input.name,
    inputShape: compiled.input.shape,
    classes: compiled.classes,
    labelShape: compiled.labelShape,
  });
  const plan = planBatches(data.train.count, cfg.batchSize, cfg.epochs);
  const setupMs = { read: 0, data: t1 - t0, compile: performance.now() - t1, session: 0, probe: 0 };
  return { cfg, data, compiled, plan, setupMs };
}

const METRIC_NAMES = [
  ["loss", "loss"],
  ["accuracy", "accuracy"],
  ["grad_norm", "gradNorm"],
  ["confidence", "confidence"],
  ["true_prob", "trueClassProb"],
] as const;

function newAcc(): EpochAccumulator {
  return {
    lossSum: 0,
    lossSqSum: 0,
    lossMin: Number.POSITIVE_INFINITY,
    lossMax: Number.NEGATIVE_INFINITY,
    accuracySum: 0,
    samples: 0,
    batches: 0,
    timeMs: 0,
  };
}

/**
 * x [n, size, ...shape] and y [n, size, L] (L labels per sample) for n batches of `size` samples starting at position `start`
 * of an epoch's order (batch i starts at start + i·stride), gathered straight into the Loop's inputs:
 * `into`'s arrays, every element of which is written. A plain function with plain loops: V8 optimizes
 * it, and small samples skip subarray allocations.
 */
function gather(
  into: { x: Float32Array; y: BigInt64Array },
  split: Split,
  order: Uint32Array,
  start: number,
  n: number,
  size: number,
  stride: number,
  L = 1,
): { x: Float32Array; y: BigInt64Array } {
  const { x, y } = into;
  const { features: f, y: labels } = split;
  // int64 labels (−100 marks padding), written as int32 pairs
  const y32 = new Int32Array(y.buffer);
  for (let i = 0; i < n; i++) {
    const base = start + i * stride;
    for (let j = 0; j < size; j++) {
      const idx = order[base + j];
      readSample(split, idx, x, (i * size + j) * f);
      for (let l = 0, to = (i * size + j) * L; l < L; l++) setInt64(y32, to + l, labels[idx * L + l]);
    }
  }
  return { x, y };
}

/** Adds a chunk's batch losses and accuracies (each batch weighted by its size) to an epoch's totals. */
function accumulate(a: EpochAccumulator, loss: Float32Array, accuracy: Float32Array, size: number): void {
  for (let i = 0; i < loss.length; i++) {
    const l = loss[i];
    a.lossSum += l * size;
    a.lossSqSum += l * l * size;
    if (l < a.lossMin) a.lossMin = l;
    if (l > a.lossMax) a.lossMax = l;
    a.accuracySum += accuracy[i] * size;
  }
  a.samples += size * loss.length;
  a.batches += loss.length;
}

/** Global steps [s, s + n) as int64 (steps < 2^31). */
function stepRange(s: number, n: number): BigInt64Array {
  const out = new BigInt64Array(n);
  const o32 = new Int32Array(out.buffer);
  for (let i = 0; i < n; i++) setInt64(o32, i, s + i);
  return out;
}

interface RowContext {
  firstStep: number;
  epoch: number;
  firstBatch: number;
  batchSize: number;
  size: number;
  epochSamples: number;
  lrs: number[];
  ms: number;
}

/**
 * One TrainedRow per step from the Loop's per-step metric outputs, or the index of the first step with a
 * non-finite metric (and which metric) when there is one: the rows before it are still returned.
 */
function buildRows(
  m: Float32Array[],
  c: RowContext,
): { rows: TrainedRow[]; bad: { i: number; metric: number; value: number } | null } {
  const [loss, accuracy, gradNorm, confidence, trueProb] = m;
  const n = loss.length;
  const rows: TrainedRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < m.length; q++) {
      const v = m[q][i];
      if (!Number.isFinite(v)) return { rows: rows.slice(0, i), bad: { i, metric: q, value: v } };
    }
    const batch = c.firstBatch + i;
    rows[i] = {
      step: c.firstStep + i,
      epoch: c.epoch,
      batch,
      loss: loss[i],
      accuracy: accuracy[i],
      lr: c.lrs[i],
      gradNorm: gradNorm[i],
      confidence: confidence[i],
      trueClassProb: trueProb[i],
      samples: c.epoch * c.epochSamples + batch * c.batchSize + c.size,
      timeMs: c.ms / n,
    };
  }
  return { rows, bad: null };
}

export class Trainer {
  readonly info: TrainInfo;
  /** Time inside session.run of the training graph, for overhead measurements (benchmarks). */
  readonly stats = { sessionMs: 0, chunks: 0, steps: 0 };
  /** Where create() spent its time. */
  readonly setupMs: SetupTimes;
  private readonly cfg: RunConfig;
  private readonly train: Split;
  private readonly validation: Split | null;
  private readonly compiled: CompiledModel;
  private readonly plan: BatchPlan;
  private readonly hyper: Record<string, HostTensor>;
  private readonly state: Record<string, Float32Array>;
  private readonly checkpointEvery: number | null;
  private readonly checkpointIntervalMs: number | null;
  private lastCheckpointAt = performance.now();
  private readonly evalBatchSize: number;
  private readonly checkpointAtEvaluations: boolean;
  private step: number;
  private acc: EpochAccumulator;
  private orderEpoch = -1;
  private feedBuffers: { samples: number; x: Float32Array; y: BigInt64Array } | null = null;
  private order: Uint32Array = new Uint32Array(0);
  private evalSession: Session | null = null;
  private evalY: BigInt64Array | null = null;
  /** The noise diagnostics (src/train/probe.ts); null when the run turned them off. */
  noise: NoiseProbe | null = null;

  private constructor(
    p: Prepared,
    private readonly session: Session,
    private readonly threads: number,
    private readonly spinning: boolean | undefined,
    job: TrainJob,
    start: { step: number; tensors: Record<string, Float32Array>; acc: EpochAccumulator | null },
  ) {
    this.cfg = p.cfg;
    this.train = p.data.train;
    this.validation = p.data.validation;
    this.compiled = p.compiled;
    this.plan = p.plan;
    this.setupMs = p.setupMs;
    this.hyper = {};
    for (const [h, v] of Object.entries(p.compiled.hyperparameters))
      this.hyper[h] = { dims: [], data: Float32Array.of(v) };
    this.state = start.tensors;
    this.step = start.step;
    this.acc = start.acc ?? newAcc();
    this.checkpointEvery = job.checkpointEvery ?? null;
    this.checkpointIntervalMs = job.checkpointIntervalMs ?? null;
    this.evalBatchSize = job.evalBatchSize ?? 256;
    this.checkpointAtEvaluations = job.checkpointAtEvaluations === true;
    this.info = {
      provider: p.cfg.provider,
      totalSteps: p.plan.totalSteps,
      startStep: start.step,
      epochs: p.plan.epochs,
      batchesPerEpoch: p.plan.batchesPerEpoch,
      batchSize: p.plan.batchSize,
      k: p.cfg.k,
      trainSamples: p.data.train.count,
      validationSamples: p.data.validation?.count ?? 0,
      classes: p.data.classes,
      parameterCount: p.compiled.parameterCount,
      threads,
    };
  }

  static async create(job: TrainJob, files?: DataFiles): Promise<Trainer> {
    if (
      job.checkpointEvery !== undefined &&
      job.checkpointEvery !== null &&
      (!Number.isInteger(job.checkpointEvery) || job.checkpointEvery < 1)
    ) {
      throw new RunConfigError(
        "checkpointEvery",
        `checkpointEvery must be an integer ≥ 1 or null, got ${job.checkpointEvery}`,
      );
    }
    // The dataset's cached arrays are read on libuv's threads while this thread compiles the model and
    // onnxruntime optimizes the Loop; loadDataset then takes them (setupMs.data is what remains).
    const first = firstConfig(job);
    const reading = prefetchDataset(first.dataset, files);
    const threads = job.threads ?? job.cores ?? defaultThreads();
    let session: Session | null = null;
    try {
      const t0 = performance.now();
      const compiled = compileJob(job, first);
      const t1 = performance.now();
      session = await createSession(compiled.trainLoop, {
        provider: first.provider,
        intraOpThreads: threads,
        allowSpinning: job.spinning,
      });
      const t2 = performance.now();
      await reading;
      const times: [number, number, number] = [t1 - t0, t2 - t1, performance.now() - t2];
      return await Trainer.start(job, files, compiled, session, threads, times);
    } catch (err) {
      await session?.release();
      throw err;
    } finally {
      // Arrays read ahead that no load took (a failed start, or sources that changed after the read)
      // must not stay in a reused trainer process; what the load took is gone from the cache already.
      (await reading)();
    }
  }

  private static async start(
    job: TrainJob,
    files: DataFiles | undefined,
    compiled: CompiledModel,
    session: Session,
    threads: number,
    [compileMs, sessionMs, readMs]: [number, number, number],
  ): Promise<Trainer> {
    const p = prepareJob(job, files, compiled);
    p.setupMs.compile = compileMs;
    p.setupMs.session = sessionMs;
    p.setupMs.read = readMs;
    const tensors: Record<string, Float32Array> = {};
    let step = 0;
    let acc: EpochAccumulator | null = null;
    let noise: NoiseProbeState | null = null;
    if (job.checkpoint) {
      const cp = decodeCheckpoint(job.checkpoint);
      noise = cp.noise ?? null;
      for (const t of p.compiled.tensors) {
        const v = cp.tensors[t.name];
        if (!v || v.length !== t.init.length) {
          throw new Error(
            `the checkpoint does not match the model: tensor "${t.name}" ${v ? `has ${v.length} values, expected ${t.init.length}` : "is missing"}`,
          );
        }
        tensors[t.name] = v;
      }
      if (!Number.isInteger(cp.step) || cp.step < 0 || cp.step > p.plan.totalSteps) {
        throw new Error(
          `the checkpoint's step ${cp.step} is outside this run's 0..${p.plan.totalSteps} steps`,
        );
      }
      step = cp.step;
      acc = cp.epochAcc;
    } else {
      for (const t of p.compiled.tensors) tensors[t.name] = t.init;
    }
    const t1 = performance.now();
    const trainer = new Trainer(p, session, threads, job.spinning, job, { step, tensors, acc });
    trainer.noise = await NoiseProbe.create(job.model, p.compiled, p.cfg, p.data.train, {
      dropout: job.dropout ?? true,
      threads,
      spinning: job.spinning,
    });
    if (noise) trainer.noise?.restore(noise);
    p.setupMs.probe = performance.now() - t1;
    return trainer;
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.evalSession?.release();
    await this.noise?.release();
  }

  /** The exclusive end of the chunk that starts at `s`. */
  private chunkEnd(s: number): number {
    const { batchesPerEpoch: bpe, batchSize, lastBatchSize } = this.plan;
    const epochStart = Math.floor(s / bpe) * bpe;
    let end = Math.min(s + this.cfg.k, epochStart + bpe);
    // The partial last batch of an epoch has another shape: it runs alone.
    if (lastBatchSize !== batchSize)
      end = s === epochStart + bpe - 1 ? s + 1 : Math.min(end, epochStart + bpe - 1);
    for (const every of [this.cfg.validation.everySteps, this.checkpointEvery, this.noise?.settings.every]) {
      if (every) end = Math.min(end, (Math.floor(s / every) + 1) * every);
    }
    return end;
  }

  /**
   * The x and y arrays for a chunk of `samples` samples: the last chunk's when it had as many (almost
   * every chunk has K steps; a shorter one before a boundary or the partial last batch allocates anew
   * and is replaced again by the next full one, so at most one chunk's arrays are kept). A fresh
   * multi-MB array per chunk cost its zeroing and, in a fresh process, its page faults: a 1,000-step
   * seed-CNN epoch (3.9 MB a chunk) gathered in 114 ms with new arrays and in 50 ms reusing them, 434
   * against 70 ms without the trainer process's malloc settings. onnxruntime is done with a feed when
   * session.run returns.
   */
  private feedsFor(samples: number, f: number, L: number): { x: Float32Array; y: BigInt64Array } {
    if (this.feedBuffers?.samples !== samples)
      this.feedBuffers = { samples, x: new Float32Array(samples * f), y: new BigInt64Array(samples * L) };
    return this.feedBuffers;
  }

  private orderOf(epoch: number): Uint32Array {
    if (epoch !== this.orderEpoch) {
      this.order = epochOrder(this.train.count, this.cfg.seed, epoch);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  private snapshot(): CheckpointBlob {
    const step = this.step;
    const epoch = Math.min(Math.floor(step / this.plan.batchesPerEpoch), this.plan.epochs - 1);
    const state = encodeCheckpoint({
      step,
      epoch,
      tensors: this.state,
      epochAcc: this.acc.batches > 0 ? { ...this.acc } : null,
      noise: this.noise?.state ?? null,
    });
    return { step, epoch, state };
  }

  /** Features as the model takes them: float32, or int64 token ids (datasets hold ids as exact floats). */
  private modelInput(x: Float32Array): Float32Array | BigInt64Array {
    return this.compiled.input.dtype === "float32" ? x : int64From(x);
  }

  /** Sample-weighted loss and accuracy over the validation split with the current parameters. */
  async evaluate(step: number, epoch: number): Promise<EvalResult | null> {
    const v = this.validation;
    if (!v) return null;
    this.evalSession ??= await createSession(this.compiled.evalStep, {
      provider: this.cfg.provider,
      intraOpThreads: this.threads,
      allowSpinning: this.spinning,
    });
    const feeds: Record<string, HostTensor> = {};
    for (const t of this.compiled.tensors)
      if (t.role !== "optimizer") feeds[t.name] = { dims: t.shape, data: this.state[t.name] };
    this.evalY ??= int64From(v.y);
    const y = this.evalY;
    const labelShape = this.compiled.labelShape;
    const L = labelShape.reduce((a, b) => a * b, 1);
    let loss = 0;
    let accuracy = 0;
    // byte samples decode one batch at a time into this (float samples are fed as views)
    const scratch =
      v.x instanceof Float32Array ? undefined : new Float32Array(this.evalBatchSize * v.features);
    for (let i = 0; i < v.count; i += this.evalBatchSize) {
      const n = Math.min(this.evalBatchSize, v.count - i);
      feeds.x = {
        dims: [n, ...v.shape],
        data: this.modelInput(readSamples(v, i, n, scratch)),
      };
      feeds.y = { dims: [n, ...labelShape], data: y.subarray(i * L, (i + n) * L) };
      const out = await this.evalSession.run(feeds);
      loss += (out.loss.data as Float32Array)[0] * n;
      accuracy += (out.accuracy.data as Float32Array)[0] * n;
    }
    return { step, epoch, loss: loss / v.count, accuracy: accuracy / v.count, samples: v.count };
  }

  /**
   * Trains from the current step to the end, one chunk per iteration. The signal is checked between
   * chunks; an aborted run returns with a checkpoint of the state after its last step. A non-finite
   * metric yields the chunk's rows before it, then throws DivergenceError.
   */
  async *chunks(signal?: AbortSignal): AsyncGenerator<TrainChunk, TrainEnd, void> {
    const { batchesPerEpoch: bpe, batchSize: B, totalSteps } = this.plan;
    const f = this.train.features;
    const shape = this.train.shape;
    const tensors = this.compiled.tensors;
    const feeds: Record<string, HostTensor> = { ...this.hyper };
    // The first probe only sets the clean loss the first segment's drift starts from; a checkpoint's
    // probe state (a resumed run) has it already.
    if (this.noise && !this.noise.primed && this.step < totalSteps)
      await this.noise.measure(this.step, this.state, true);
    while (this.step < totalSteps) {
      if (signal?.aborted) return { status: "aborted", lastStep: this.step - 1, checkpoint: this.snapshot() };
      const meter = startMeter();
      const s = this.step;
      const end = this.chunkEnd(s);
      const n = end - s;
      const epoch = Math.floor(s / bpe);
      const firstBatch = s - epoch * bpe;
      const size = firstBatch + n === bpe ? this.plan.lastBatchSize : B;
      const order = this.orderOf(epoch);
      const labelShape = this.compiled.labelShape;
      const L = labelShape.reduce((a, b) => a * b, 1);
      const { x, y } = gather(
        this.feedsFor(n * size, f, L),
        this.train,
        order,
        firstBatch * B,
        n,
        size,
        B,
        L,
      );
      const lrExact = new Array<number>(n);
      for (let i = 0; i < n; i++)
        lrExact[i] = lrAt(this.cfg.schedule, this.cfg.optimizer.lr, s + i, totalSteps);
      const lrs = Float32Array.from(lrExact);
      const steps = stepRange(s, n);
      feeds.x = { dims: [n, size, ...shape], data: this.modelInput(x) };
      feeds.y = { dims: [n, size, ...labelShape], data: y };
      feeds.lr = { dims: [n], data: lrs };
      feeds.step = { dims: [n], data: steps };
      for (const t of tensors) feeds[t.name] = { dims: t.shape, data: this.state[t.name] };
      const t0 = performance.now();
      const out = await this.session.run(feeds);
      const ms = performance.now() - t0;
      this.stats.sessionMs += ms;
      this.stats.chunks++;
      this.stats.steps += n;
      const m = METRIC_NAMES.map(([name]) => out[name].data as Float32Array);
      const { rows, bad } = buildRows(m, {
        firstStep: s,
        epoch,
        firstBatch,
        batchSize: B,
        size,
        epochSamples: this.train.count,
        lrs: lrExact,
        ms,
      });
      if (bad) {
        // The rows before the first bad step are real results: hand them over, then fail.
        if (rows.length) yield { rows, epoch: null, evals: [], checkpoint: null };
        throw new DivergenceError(s + bad.i, METRIC_NAMES[bad.metric][0], bad.value);
      }
      for (const t of tensors) this.state[t.name] = out[`${t.name}.next`].data as Float32Array;
      let noise: TrainChunk["noise"] = null;
      if (this.noise) {
        // the probe after this chunk's last step: its values belong to that step (custom metrics)
        this.noise.observe(m[0]);
        if (this.noise.due(end, totalSteps))
          noise = { step: end - 1, values: await this.noise.measure(end, this.state) };
      }
      const a = this.acc;
      accumulate(a, m[0], m[1], size);
      a.timeMs += ms;
      this.step = end;
      const chunk: TrainChunk = { rows, epoch: null, evals: [], checkpoint: null, noise };
      const everyEval = this.cfg.validation.everySteps;
      const epochDone = end % bpe === 0;
      if (epochDone || (everyEval && end % everyEval === 0)) {
        const t1 = performance.now();
        const ev = await this.evaluate(end - 1, epoch);
        a.timeMs += performance.now() - t1;
        if (ev) chunk.evals.push(ev);
        if (epochDone) {
          const mean = a.lossSum / a.samples;
          chunk.epoch = {
            epoch,
            trainLoss: mean,
            trainAccuracy: a.accuracySum / a.samples,
            valLoss: ev?.loss ?? null,
            valAccuracy: ev?.accuracy ?? null,
            batches: a.batches,
            timeMs: a.timeMs,
            trainLossStd: Math.sqrt(Math.max(0, a.lossSqSum / a.samples - mean * mean)),
            trainLossMin: a.lossMin,
            trainLossMax: a.lossMax,
          };
          this.acc = newAcc();
        }
        // After the epoch's totals were reset, so a resume from it starts the next epoch clean.
        if (this.checkpointAtEvaluations) chunk.evalCheckpoint = this.snapshot();
      }
      const byStep = this.checkpointEvery !== null && end % this.checkpointEvery === 0;
      const byTime =
        this.checkpointIntervalMs !== null &&
        performance.now() - this.lastCheckpointAt >= this.checkpointIntervalMs;
      if ((byStep || byTime) && end < totalSteps) {
        chunk.checkpoint = this.snapshot();
        this.lastCheckpointAt = performance.now();
      }
      chunk.system = meter.end(n * size);
      yield chunk;
    }
    return { status: "completed", lastStep: totalSteps - 1, checkpoint: this.snapshot() };
  }
}

/** Everything a run produced, collected in memory (the CLI and tests; the server streams instead). */
export interface TrainResult {
  info: TrainInfo;
  rows: TrainedRow[];
  epochs: EpochSummary[];
  evals: EvalResult[];
  checkpoints: CheckpointBlob[];
  end: TrainEnd;
}

/** Runs a job in this thread to its end, calling onChunk (awaited) for each chunk. */
export async function trainInline(
  job: TrainJob,
  options: { signal?: AbortSignal; onChunk?: (c: TrainChunk, info: TrainInfo) => void | Promise<void> } = {},
): Promise<TrainResult> {
  const trainer = await Trainer.create(job);
  const result: TrainResult = {
    info: trainer.info,
    rows: [],
    epochs: [],
    evals: [],
    checkpoints: [],
    end: { status: "completed", lastStep: -1, checkpoint: { step: 0, epoch: 0, state: new Uint8Array() } },
  };
  try {
    const it = trainer.chunks(options.signal);
    for (;;) {
      const r = await it.next();
      if (r.done) {
        result.end = r.value;
        break;
      }
      const c = r.value;
      const probed = c.noise ? c.rows.find((row) => row.step === c.noise?.step) : undefined;
      if (probed && c.noise) probed.custom = c.noise.values;
      result.rows.push(...c.rows);
      if (c.epoch) result.epochs.push(c.epoch);
      result.evals.push(...c.evals);
      if (c.checkpoint) result.checkpoints.push(c.checkpoint);
      await options.onChunk?.(c, trainer.info);
    }
  } finally {
    await trainer.release();
  }
  return result;
}
