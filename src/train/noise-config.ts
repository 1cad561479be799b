// The noise diagnostics' settings in a run configuration (`noise` field): pure validation, like
// config.ts. Absent = on with the defaults; `false` = off for this run.
import { RunConfigError } from "./config.ts";

export interface NoiseConfig {
  /** Probe every N training steps (and after the last step). */
  every: number;
  /** Fixed probe batches (P ≥ 2: their spread is the sampling variance). */
  probeBatches: number;
  /** Dropout masks per probe batch (M ≥ 2: their spread is the dropout variance). */
  masks: number;
  /** Fresh batches per probe whose halves give the gradient noise scale (Q ≥ 1). */
  gradBatches: number;
  /** Decay of the EMAs of |G|² and tr(Σ) per probe (0 = no smoothing; 0.99 ≈ a mean over 100 probes). */
  emaDecay: number;
}

/**
 * Defaults sized so the probe costs ≈ 5% of training time or less (`npm run bench runner` measures
 * it): one probe runs P forward passes clean, P·M with dropout and Q forward+backward passes, about
 * (P + P·M)/3 + Q training steps' worth of work, here ≈ 8 steps every 300. The dropout passes start
 * from the clean passes' values before the first Dropout (src/graph/probe.ts), so for a model whose
 * Dropout sits near its end (the CNNs) they cost little, and a probe is nearer P/3 + Q ≈ 3.5 steps.
 */
export const NOISE_DEFAULTS: NoiseConfig = {
  every: 300,
  probeBatches: 4,
  masks: 4,
  gradBatches: 2,
  emaDecay: 0.9,
};

/** Each setting's accepted range, inclusive. */
export const NOISE_LIMITS = {
  every: [1, 1_000_000_000],
  probeBatches: [2, 64],
  masks: [2, 64],
  gradBatches: [1, 1024],
  emaDecay: [0, 0.999],
} as const;

/** `noise: false` (off), or an object overriding some defaults; absent keys keep the defaults. */
export function validateNoise(input: unknown): NoiseConfig | false {
  if (input === false || input === null) return false;
  if (input === true) return { ...NOISE_DEFAULTS };
  if (typeof input !== "object" || Array.isArray(input))
    throw new RunConfigError(
      "noise",
      `noise must be false (off) or an object like {"every":300,"probeBatches":4,"masks":4,"gradBatches":2,"emaDecay":0.9}, got ${JSON.stringify(input)}`,
    );
  const o = input as Record<string, unknown>;
  const out = { ...NOISE_DEFAULTS };
  for (const key of Object.keys(o)) {
    if (!(key in NOISE_LIMITS))
      throw new RunConfigError(
        `noise.${key}`,
        `noise: unknown field "${key}"; accepted: ${Object.keys(NOISE_LIMITS).join(", ")}`,
      );
    const [min, max] = NOISE_LIMITS[key as keyof NoiseConfig];
    const v = o[key];
    const integer = key !== "emaDecay";
    if (
      typeof v !== "number" ||
      !Number.isFinite(v) ||
      (integer && !Number.isInteger(v)) ||
      v < min ||
      v > max
    )
      throw new RunConfigError(
        `noise.${key}`,
        `noise.${key} must be ${integer ? "an integer" : "a number"} between ${min} and ${max}, got ${JSON.stringify(v)}`,
      );
    out[key as keyof NoiseConfig] = v;
  }
  return out;
}
