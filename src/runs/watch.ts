// Watching a metric for "is it still learning?": early stopping's rule (issue 18, item 4), shared by
// ASHA rungs (asha.ts) and the plateau alert (alerts.ts). Pure: no database, no clock.
//
// A watched value is read at each evaluation point (every `validation.everySteps` steps and at each
// epoch end): VAL_LOSS / VAL_ACCURACY from that evaluation, TRAIN_LOSS_SMOOTHED from TensorBoard's
// debiased exponential moving average of the batch losses up to that step:
//   ema_n = s · ema_{n−1} + (1 − s) · loss_n,   smoothed_n = ema_n / (1 − sⁿ)   (ema_0 = 0)
import { ValidationError } from "../errors.ts";

export type WatchedMetric = "val_loss" | "val_accuracy" | "train_loss_smoothed";
export type WatchMode = "min" | "max";
export const WATCHED_METRICS: readonly WatchedMetric[] = ["val_loss", "val_accuracy", "train_loss_smoothed"];

export interface EarlyStoppingConfig {
  metric: WatchedMetric;
  mode: WatchMode;
  /** Evaluation points without an improvement of more than minDelta before the run stops (1–100,000). */
  patience: number;
  /** The least change that counts as an improvement (≥ 0, in the metric's units). */
  minDelta: number;
  /** TRAIN_LOSS_SMOOTHED: the EMA's smoothing s (0 ≤ s < 1, default 0.9). */
  smoothing: number;
}

function field(o: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(o, name) ? o[name] : undefined;
}

/** Validates watched-metric settings; errors name `${prefix}.<field>` and what is accepted. */
export function validateWatch(input: unknown, prefix: string): EarlyStoppingConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw new ValidationError(prefix, `${prefix} must be an object like {"metric":"val_loss","patience":3}`);
  const o = input as Record<string, unknown>;
  const known = ["metric", "mode", "patience", "minDelta", "smoothing"];
  for (const k of Object.keys(o))
    if (!known.includes(k))
      throw new ValidationError(
        `${prefix}.${k}`,
        `${prefix}.${k} is not a setting; known: ${known.join(", ")}`,
      );
  const metric = field(o, "metric");
  if (!WATCHED_METRICS.includes(metric as WatchedMetric))
    throw new ValidationError(
      `${prefix}.metric`,
      `${prefix}.metric must be one of ${WATCHED_METRICS.join(", ")}, got ${JSON.stringify(metric)}`,
    );
  const m = metric as WatchedMetric;
  const mode = field(o, "mode") ?? (m === "val_accuracy" ? "max" : "min");
  if (mode !== "min" && mode !== "max")
    throw new ValidationError(
      `${prefix}.mode`,
      `${prefix}.mode must be min or max, got ${JSON.stringify(mode)}`,
    );
  const patience = field(o, "patience") ?? 3;
  if (typeof patience !== "number" || !Number.isInteger(patience) || patience < 1 || patience > 100_000)
    throw new ValidationError(
      `${prefix}.patience`,
      `${prefix}.patience must be an integer from 1 to 100000 (evaluation points), got ${JSON.stringify(patience)}`,
    );
  const minDelta = field(o, "minDelta") ?? 0;
  if (typeof minDelta !== "number" || !Number.isFinite(minDelta) || minDelta < 0)
    throw new ValidationError(
      `${prefix}.minDelta`,
      `${prefix}.minDelta must be a finite number ≥ 0, got ${JSON.stringify(minDelta)}`,
    );
  const smoothing = field(o, "smoothing") ?? 0.9;
  if (typeof smoothing !== "number" || !(smoothing >= 0 && smoothing < 1))
    throw new ValidationError(
      `${prefix}.smoothing`,
      `${prefix}.smoothing must be a number from 0 to below 1, got ${JSON.stringify(smoothing)}`,
    );
  return { metric: m, mode, patience, minDelta, smoothing };
}

/** TensorBoard's debiased EMA, fed one value at a time. */
export class DebiasedEma {
  private ema = 0;
  private n = 0;
  constructor(private readonly smoothing: number) {}
  push(x: number): number {
    this.ema = this.smoothing * this.ema + (1 - this.smoothing) * x;
    this.n++;
    return this.value();
  }
  value(): number {
    return this.n === 0 ? Number.NaN : this.ema / (1 - this.smoothing ** this.n);
  }
}

/** Best value, its step, and how many evaluation points passed without improving on it. */
export class Patience {
  best: number | null = null;
  bestStep: number | null = null;
  wait = 0;
  constructor(private readonly c: Pick<EarlyStoppingConfig, "mode" | "minDelta" | "patience">) {}

  /** Records the value at `step`; true when it improved on the best by more than minDelta. */
  observe(value: number, step: number): boolean {
    const b = this.best;
    const better =
      b === null || (this.c.mode === "min" ? value < b - this.c.minDelta : value > b + this.c.minDelta);
    if (better) {
      this.best = value;
      this.bestStep = step;
      this.wait = 0;
    } else this.wait++;
    return better;
  }

  exhausted(): boolean {
    return this.wait >= this.c.patience;
  }
}

/** Whether a is better than b under mode (ties are not better). */
export function isBetter(a: number, b: number, mode: WatchMode): boolean {
  return mode === "min" ? a < b : a > b;
}
