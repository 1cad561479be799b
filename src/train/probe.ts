// The runner's side of the noise diagnostics: the probe graph's session, the fixed probe set, the fresh
// gradient batches, and the per-probe values stored as custom metrics (src/stats/noise.ts has the math).
//
// The probe set is P batches of B training samples drawn once; their ids are a pure function of the
// run's seed and the training split (deriveSeed(seed, "noise-probe")), so a resumed run probes exactly
// the same samples. The gradient batches are drawn fresh at every probe, uniformly with replacement
// from the training split (deriveSeed(seed, "noise-grad", step)): independent draws from the data are
// what makes the |G|² and tr(Σ) estimates unbiased for the full data's gradient. Dropout masks in the
// probe use step numbers ≥ 2³² so they never repeat a training step's masks.
import type { CompiledModel } from "../graph/compile.ts";
import { compileProbe } from "../graph/probe.ts";
import {
  driftVariance,
  gradientNoise,
  NOISE_METRICS,
  NoiseScale,
  observedVariance,
  probeVariances,
} from "../stats/noise.ts";
import type { NoiseProbeState } from "./checkpoint.ts";
import type { RunConfig } from "./config.ts";
import { readSample, type Split } from "./data/index.ts";
import { deriveSeed, mulberry32 } from "./data/prng.ts";
import { int64From, setInt64 } from "./int64.ts";
import { NOISE_DEFAULTS, type NoiseConfig } from "./noise-config.ts";
import { createSession, type HostTensor, type Session } from "./session.ts";

/** The settings a run's configuration asks for (null = diagnostics off). */
export function noiseSettings(cfg: RunConfig): NoiseConfig | null {
  if (cfg.noise === false) return null;
  return cfg.noise ?? NOISE_DEFAULTS;
}

const MASK_BASE = 2n ** 32n;

export class NoiseProbe {
  /** Time inside the probe's session.run, for the cost measurement (benchmarks). */
  readonly stats = { ms: 0, probes: 0 };
  private readonly scale: NoiseScale;
  private readonly probeIds: Uint32Array;
  private readonly half: number;
  private losses: number[] = [];
  private lastClean: number | null = null;

  private constructor(
    readonly settings: NoiseConfig,
    private readonly session: Session,
    private readonly hasDropout: boolean,
    private readonly stateNames: string[],
    private readonly compiled: CompiledModel,
    private readonly train: Split,
    private readonly labels: number,
    private readonly batchSize: number,
    private readonly seed: number,
  ) {
    this.scale = new NoiseScale(settings.emaDecay);
    const r = mulberry32(deriveSeed(seed, "noise-probe"));
    const n = settings.probeBatches * batchSize;
    this.probeIds = Uint32Array.from({ length: n }, () => Math.floor(r() * train.count));
    this.half = Math.floor(batchSize / 2);
  }

  static async create(
    model: Uint8Array,
    compiled: CompiledModel,
    cfg: RunConfig,
    train: Split,
    opts: { dropout: boolean; threads?: number; spinning?: boolean },
  ): Promise<NoiseProbe | null> {
    const settings = noiseSettings(cfg);
    if (!settings) return null;
    const probe = compileProbe(model, { loss: cfg.loss, dropout: opts.dropout, seed: cfg.seed });
    const session = await createSession(probe.graph, {
      provider: cfg.provider,
      intraOpThreads: opts.threads,
      allowSpinning: opts.spinning,
    });
    const labels = compiled.labelShape.reduce((a, b) => a * b, 1);
    return new NoiseProbe(
      settings,
      session,
      probe.hasDropout,
      probe.stateNames,
      compiled,
      train,
      labels,
      cfg.batchSize,
      cfg.seed,
    );
  }

  release(): Promise<void> {
    return this.session.release();
  }

  /** What the next probe continues from: checkpoints carry it, so a resumed run's values are the same. */
  get state(): NoiseProbeState {
    return { scale: this.scale.state, lastClean: this.lastClean, losses: Float32Array.from(this.losses) };
  }

  restore(s: NoiseProbeState): void {
    this.scale.restore(s.scale);
    this.lastClean = s.lastClean;
    this.losses = Array.from(s.losses);
  }

  /** Whether a probe (or a restored state) has set the clean loss the next segment's drift starts from. */
  get primed(): boolean {
    return this.lastClean !== null;
  }

  /** Records the training batch losses of a chunk (the observed variance is over those since the last probe). */
  observe(losses: ArrayLike<number>): void {
    for (let i = 0; i < losses.length; i++) this.losses.push(losses[i]);
  }

  /** Whether a probe follows the chunk that ends at step `end` (exclusive) of `total`. */
  due(end: number, total: number): boolean {
    return end % this.settings.every === 0 || end === total;
  }

  private batch(ids: ArrayLike<number>, lead: number[]): { x: HostTensor; y: HostTensor } {
    const { features: f, y: labels } = this.train;
    const L = this.labels;
    const x = new Float32Array(ids.length * f);
    const y = new BigInt64Array(ids.length * L);
    const y32 = new Int32Array(y.buffer);
    for (let i = 0; i < ids.length; i++) {
      readSample(this.train, ids[i], x, i * f);
      for (let l = 0; l < L; l++) setInt64(y32, i * L + l, labels[ids[i] * L + l]);
    }
    const data = this.compiled.input.dtype === "float32" ? x : int64From(x);
    return {
      x: { dims: [...lead, ...this.train.shape], data },
      y: { dims: [...lead, ...this.compiled.labelShape], data: y },
    };
  }

  /**
   * Probes the parameters after `step` training steps (the last row's step is step − 1) and returns
   * the custom metric values for that row. `baseline` (the job's first probe, before it trains) only
   * sets the clean loss the first segment's drift starts from; its values are not stored.
   */
  async measure(
    step: number,
    state: Record<string, Float32Array>,
    baseline = false,
  ): Promise<Record<string, number>> {
    const { probeBatches: P, masks: M, gradBatches: Q } = this.settings;
    const B = this.batchSize;
    const feeds: Record<string, HostTensor> = {};
    const probe = this.batch(this.probeIds, [P, B]);
    feeds.px = probe.x;
    feeds.py = probe.y;
    if (this.hasDropout)
      feeds.mask_step = {
        dims: [P * M],
        data: BigInt64Array.from(
          { length: P * M },
          (_, k) => MASK_BASE + BigInt(step) * 64n * 64n + BigInt(k),
        ),
      };
    const H = Math.max(1, this.half);
    const r = mulberry32(deriveSeed(this.seed, "noise-grad", step));
    const gids = Uint32Array.from({ length: 2 * Q * H }, () => Math.floor(r() * this.train.count));
    const grad = this.batch(gids, [2 * Q, H]);
    feeds.gx = grad.x;
    feeds.gy = grad.y;
    feeds.gstep = {
      dims: [2 * Q],
      data: BigInt64Array.from({ length: 2 * Q }, (_, j) => MASK_BASE * 2n + BigInt(step) * 128n + BigInt(j)),
    };
    const shapes = new Map(this.compiled.tensors.map((t) => [t.name, t.shape]));
    for (const name of this.stateNames) feeds[name] = { dims: shapes.get(name) ?? [], data: state[name] };
    const t0 = performance.now();
    const out = await this.session.run(feeds);
    this.stats.ms += performance.now() - t0;
    this.stats.probes++;
    const v = probeVariances(
      out.clean_loss.data as Float32Array,
      this.hasDropout ? (out.dropout_loss.data as Float32Array) : [],
    );
    const values: Record<string, number> = {
      [NOISE_METRICS.cleanLoss]: v.cleanLoss,
      [NOISE_METRICS.samplingVar]: v.samplingVar,
      [NOISE_METRICS.dropoutVar]: v.dropoutVar,
    };
    const n = this.losses.length;
    if (n >= 2) values[NOISE_METRICS.observedVar] = observedVariance(this.losses);
    if (this.lastClean !== null && n >= 1)
      values[NOISE_METRICS.driftVar] = driftVariance(v.cleanLoss - this.lastClean, n);
    this.lastClean = v.cleanLoss;
    this.losses = [];
    if (baseline) return {};
    if (this.half >= 1) {
      // B_small = H: the mean of |g|² over the 2Q halves; B_big = 2QH: the mean of all of them
      const small = out.grad_sq_small.data as Float32Array;
      let s = 0;
      for (let q = 0; q < small.length; q++) s += small[q];
      const all = (out.grad_sq_all.data as Float32Array)[0];
      const est = gradientNoise(s / small.length, all, H, 2 * Q * H);
      values[NOISE_METRICS.g2] = est.g2;
      values[NOISE_METRICS.traceSigma] = est.traceSigma;
      const bSimple = this.scale.update(est);
      if (bSimple !== null) values[NOISE_METRICS.bSimple] = bSimple;
    }
    for (const [k, x] of Object.entries(values)) if (!Number.isFinite(x)) delete values[k];
    return values;
  }
}
