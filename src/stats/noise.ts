// Why does the batch loss fluctuate? Pure statistics over what the noise probe measures (the probe
// graph: src/graph/probe.ts; the runner's side: src/train/probe.ts).
//
// 1. Loss-noise decomposition, per probe (at step t, over the n batches since the previous probe):
//    clean trend  c_t = mean over the P fixed probe batches of their loss with dropout off
//    sampling     σ²_s = Σ_p (ℓ_p − c_t)² / (P − 1)               (how much one batch's loss varies with
//                                                               which samples it holds, at batch size B)
//    dropout      σ²_d = mean_p Σ_m (ℓ_pm − ℓ̄_p)² / (M − 1)        (one batch under M dropout masks)
//    drift        σ²_L = Δ²(n² − 1)/(12 n²),  Δ = c_t − c_prev     (the variance of a trend that moves
//                                                               linearly by Δ across n steps: learning)
//    observed     σ²_obs = Σ_i (L_i − L̄)² / (n − 1) over the training batch losses in the segment.
//    Shares are each part over their sum; `explained` = sum / σ²_obs says how much of the observed
//    variance the three account for (≈ 1 when the model of the noise holds).
//
// 2. Gradient noise scale (McCandlish, Kaplan, Amodei et al., "An Empirical Model of Large-Batch
//    Training", 2018, Appendix A). For gradient estimates at two batch sizes B_small < B_big at the
//    same parameters, E|G_B|² = |G|² + tr(Σ)/B, so
//      |G|²  = (B_big·|G_big|² − B_small·|G_small|²) / (B_big − B_small)
//      tr(Σ) = (|G_small|² − |G_big|²) / (1/B_small − 1/B_big)
//    are unbiased. Both are noisy (|G|² can come out negative), so each is smoothed by its own EMA and
//    B_simple = EMA[tr(Σ)] / EMA[|G|²]. Both EMAs start at 0 with the same decay and the same number of
//    updates, so their bias corrections (1 − βᵗ) cancel in the ratio.

export interface ProbeVariances {
  cleanLoss: number;
  samplingVar: number;
  dropoutVar: number;
}

function variance(values: ArrayLike<number>, from: number, count: number, stride = 1): number {
  let s = 0;
  for (let i = 0; i < count; i++) s += values[from + i * stride];
  const mean = s / count;
  let q = 0;
  for (let i = 0; i < count; i++) q += (values[from + i * stride] - mean) ** 2;
  return count > 1 ? q / (count - 1) : 0;
}

/**
 * Clean trend, sampling and dropout variance from one probe: `clean[p]` for P batches, `dropout[m·P + p]`
 * for M masks of each (empty when the run has no dropout: then the dropout variance is 0).
 */
export function probeVariances(clean: ArrayLike<number>, dropout: ArrayLike<number>): ProbeVariances {
  const P = clean.length;
  if (P < 2) throw new Error(`a probe needs at least 2 batches, got ${P}`);
  let sum = 0;
  for (let p = 0; p < P; p++) sum += clean[p];
  const M = dropout.length / P;
  if (!Number.isInteger(M) || M === 1)
    throw new Error(`dropout losses must be M·P values with M ≥ 2, got ${dropout.length}`);
  let dropoutVar = 0;
  if (M >= 2) {
    for (let p = 0; p < P; p++) dropoutVar += variance(dropout, p, M, P);
    dropoutVar /= P;
  }
  return { cleanLoss: sum / P, samplingVar: variance(clean, 0, P), dropoutVar };
}

/** The variance across n steps of a trend that moves linearly by `delta` over them. */
export function driftVariance(delta: number, n: number): number {
  return n < 2 ? 0 : (delta * delta * (n * n - 1)) / (12 * n * n);
}

/** Unbiased (n − 1) variance of the batch losses in a segment; 0 for fewer than 2. */
export function observedVariance(losses: ArrayLike<number>): number {
  return losses.length < 2 ? 0 : variance(losses, 0, losses.length);
}

export interface GradientNoise {
  /** |G|²: the squared norm of the true (full-data) gradient, unbiased. */
  g2: number;
  /** tr(Σ): the trace of the per-example gradient covariance, unbiased. */
  traceSigma: number;
}

/** |G|² and tr(Σ) from mean squared gradient norms at two batch sizes (McCandlish et al., App. A). */
export function gradientNoise(sqSmall: number, sqBig: number, bSmall: number, bBig: number): GradientNoise {
  if (!(bSmall > 0 && bBig > bSmall))
    throw new Error(`batch sizes must satisfy 0 < small < big, got ${bSmall} and ${bBig}`);
  return {
    g2: (bBig * sqBig - bSmall * sqSmall) / (bBig - bSmall),
    traceSigma: (sqSmall - sqBig) / (1 / bSmall - 1 / bBig),
  };
}

/** A NoiseScale's moving averages of |G|² and tr(Σ), and how many updates they hold. */
export interface NoiseScaleState {
  g2: number;
  tr: number;
  n: number;
}

/** EMA of |G|² and tr(Σ) kept separately; B_simple is their ratio (null while |G|²'s EMA is ≤ 0). */
export class NoiseScale {
  private g2 = 0;
  private tr = 0;
  private n = 0;

  constructor(readonly decay = 0.9) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`decay must be in [0, 1), got ${decay}`);
  }

  update(est: GradientNoise): number | null {
    this.g2 = this.decay * this.g2 + (1 - this.decay) * est.g2;
    this.tr = this.decay * this.tr + (1 - this.decay) * est.traceSigma;
    this.n++;
    return this.value;
  }

  get value(): number | null {
    return this.n > 0 && this.g2 > 0 ? this.tr / this.g2 : null;
  }

  get updates(): number {
    return this.n;
  }

  /** The averages and their count, to continue from (a checkpoint). */
  get state(): NoiseScaleState {
    return { g2: this.g2, tr: this.tr, n: this.n };
  }

  restore(s: NoiseScaleState): void {
    this.g2 = s.g2;
    this.tr = s.tr;
    this.n = s.n;
  }
}

/** The custom metric names the diagnostics are stored and streamed under (one value per probe). */
export const NOISE_METRICS = {
  cleanLoss: "noise.clean_loss",
  samplingVar: "noise.sampling_var",
  dropoutVar: "noise.dropout_var",
  observedVar: "noise.observed_var",
  driftVar: "noise.drift_var",
  g2: "noise.g2",
  traceSigma: "noise.trace_sigma",
  bSimple: "noise.b_simple",
} as const;
export type NoiseField = keyof typeof NOISE_METRICS;
export const NOISE_METRIC_NAMES: readonly string[] = Object.values(NOISE_METRICS);

/** One point of the decomposition (a probe, or the mean over the probes in a history bucket). */
export interface NoisePoint {
  firstStep: number;
  lastStep: number;
  cleanLoss: number | null;
  observedVar: number | null;
  samplingVar: number | null;
  dropoutVar: number | null;
  driftVar: number | null;
  /** Each part's share of their sum (null when nothing was measured). */
  samplingShare: number | null;
  dropoutShare: number | null;
  driftShare: number | null;
  /** (sampling + dropout + drift) / observed. */
  explained: number | null;
  /** B_simple from the EMAs of the stored |G|² and tr(Σ) estimates up to this point. */
  bNoise: number | null;
}

export type Values = Partial<Record<NoiseField, number | null>>;

/** The noise fields among a step's (or bucket's) custom metric values, by stored name. */
export function noiseValues(custom: Readonly<Record<string, number | null | undefined>>): Values {
  const out: Values = {};
  for (const [field, name] of Object.entries(NOISE_METRICS) as [NoiseField, string][]) {
    const v = custom[name];
    if (typeof v === "number") out[field] = v;
  }
  return out;
}

/** Whether a step's custom metrics hold a probe (its clean loss). */
export function hasProbe(custom: Readonly<Record<string, number>> | undefined): boolean {
  return custom !== undefined && NOISE_METRICS.cleanLoss in custom;
}

/**
 * Points from per-probe (or per-bucket mean) values in step order. B_noise is recomputed here from the
 * stored |G|² and tr(Σ) estimates with the same EMA the trainer streams, so a resumed run, a
 * downsampled history and an external run that logs only the estimates all get it.
 */
export function noisePoints(
  rows: readonly { firstStep: number; lastStep: number; values: Values }[],
  decay = 0.9,
): NoisePoint[] {
  const scale = new NoiseScale(decay);
  return rows.map(({ firstStep, lastStep, values: v }) => {
    const parts = [v.samplingVar, v.dropoutVar ?? 0, v.driftVar];
    const known = parts.every((x) => x !== null && x !== undefined);
    const sum = known ? (parts as number[]).reduce((a, b) => a + b, 0) : 0;
    const share = (x: number | null | undefined) => (known && sum > 0 ? (x ?? 0) / sum : null);
    let bNoise = scale.value;
    if (typeof v.g2 === "number" && typeof v.traceSigma === "number")
      bNoise = scale.update({ g2: v.g2, traceSigma: v.traceSigma });
    const observed = v.observedVar ?? null;
    return {
      firstStep,
      lastStep,
      cleanLoss: v.cleanLoss ?? null,
      observedVar: observed,
      samplingVar: v.samplingVar ?? null,
      dropoutVar: v.dropoutVar ?? null,
      driftVar: v.driftVar ?? null,
      samplingShare: share(v.samplingVar),
      dropoutShare: share(v.dropoutVar),
      driftShare: share(v.driftVar),
      explained: known && observed !== null && observed > 0 ? sum / observed : null,
      bNoise,
    };
  });
}

export interface NoiseShares {
  samplingShare: number;
  dropoutShare: number;
  driftShare: number;
  /** Probes that measured all three parts. */
  probes: number;
}

/**
 * Each part's share of the summed variances over several points (a sum of variances, not a mean of
 * ratios: a quiet segment weighs less than a noisy one). Null when no point measured all three.
 */
export function noiseShares(points: readonly NoisePoint[]): NoiseShares | null {
  let s = 0;
  let d = 0;
  let l = 0;
  let probes = 0;
  for (const p of points) {
    if (p.samplingShare === null) continue;
    s += p.samplingVar ?? 0;
    d += p.dropoutVar ?? 0;
    l += p.driftVar ?? 0;
    probes++;
  }
  const total = s + d + l;
  if (!probes || total <= 0) return null;
  return { samplingShare: s / total, dropoutShare: d / total, driftShare: l / total, probes };
}

export type Dominant = "SAMPLING" | "DROPOUT" | "DRIFT";
export type Trend = "FALLING" | "FLAT" | "RISING";

export interface NoiseVerdict {
  dominant: Dominant | null;
  trend: Trend | null;
  /** Relative change of the clean trend over the judged points (negative = falling). */
  trendChange: number | null;
  sentence: string;
}

/** The clean trend counts as moving when it changed by more than this fraction. */
export const TREND_TOLERANCE = 0.01;

const pct = (x: number) => `${Math.round(x * 100)}%`;
const fmt = (x: number) => (x >= 100 ? String(Math.round(x)) : x.toPrecision(2));

/**
 * A plain-words verdict over the latest points (`recent` of them, at least 2 for the trend): which
 * part dominates the loss variance, whether the clean trend still falls, and B_noise against the batch.
 */
export function noiseVerdict(
  points: readonly NoisePoint[],
  batchSize: number | null,
  recent = 5,
): NoiseVerdict {
  const measured = points.filter((p) => p.samplingShare !== null);
  const summary = noiseShares(measured.slice(-recent));
  if (!summary)
    return {
      dominant: null,
      trend: null,
      trendChange: null,
      sentence: "No noise probe has run yet: the first comes after the probe interval (noise.every steps).",
    };
  const shares: [Dominant, number][] = [
    ["SAMPLING", summary.samplingShare],
    ["DROPOUT", summary.dropoutShare],
    ["DRIFT", summary.driftShare],
  ];
  const [dominant, top] = shares.reduce((a, b) => (b[1] > a[1] ? b : a));
  const what: Record<Dominant, string> = {
    SAMPLING: "sampling noise (which examples land in each batch)",
    DROPOUT: "dropout noise (which units each mask drops)",
    DRIFT: "learning itself (the clean loss moving)",
  };
  const others = shares
    .filter(([d]) => d !== dominant)
    .map(([d, s]) => `${d === "DRIFT" ? "drift" : d.toLowerCase()} ${pct(s)}`)
    .join(", ");
  const parts = [`${pct(top)} of the batch-loss variance comes from ${what[dominant]}; ${others}.`];
  const cleans = measured.map((p) => p.cleanLoss).filter((c): c is number => c !== null);
  let trend: Trend | null = null;
  let trendChange: number | null = null;
  if (cleans.length >= 2) {
    const window = cleans.slice(-Math.max(2, recent));
    const first = window[0];
    const last = window[window.length - 1];
    trendChange = first !== 0 ? (last - first) / Math.abs(first) : last - first;
    trend = trendChange < -TREND_TOLERANCE ? "FALLING" : trendChange > TREND_TOLERANCE ? "RISING" : "FLAT";
    parts.push(
      trend === "FALLING"
        ? `The clean loss fell ${pct(-trendChange)} (${fmt(first)} → ${fmt(last)}): learning continues.`
        : trend === "RISING"
          ? `The clean loss rose ${pct(trendChange)} (${fmt(first)} → ${fmt(last)}): training is getting worse.`
          : `The clean loss is flat (${fmt(first)} → ${fmt(last)}): learning has stalled; the jumps are noise.`,
    );
  } else {
    parts.push("One probe so far: the trend shows after the next.");
  }
  const b = [...points].reverse().find((p) => p.bNoise !== null)?.bNoise ?? null;
  if (b !== null && batchSize !== null) {
    parts.push(
      batchSize < b
        ? `B_noise ≈ ${fmt(b)}; at batch ${batchSize} the gradient is dominated by noise, which is why the loss jumps.`
        : `B_noise ≈ ${fmt(b)}; batch ${batchSize} is above it, so larger batches would barely reduce the gradient noise.`,
    );
  }
  return { dominant, trend, trendChange, sentence: parts.join(" ") };
}

export interface NoiseSummary extends NoiseVerdict {
  /** The latest B_noise (null before the first gradient estimate). */
  bNoise: number | null;
  /** The parts' shares over the latest `recent` points that measured all three. */
  shares: NoiseShares | null;
}

/** What Run.noise and `gradstream train` report over points: the verdict, B_noise and the shares. */
export function noiseSummary(
  points: readonly NoisePoint[],
  batchSize: number | null,
  recent = 5,
): NoiseSummary {
  return {
    ...noiseVerdict(points, batchSize, recent),
    bNoise: [...points].reverse().find((p) => p.bNoise !== null)?.bNoise ?? null,
    shares: noiseShares(points.filter((p) => p.samplingShare !== null).slice(-recent)),
  };
}
