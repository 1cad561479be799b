// Asynchronous successive halving (ASHA) for sweeps, as Determined's adaptive search does it in its
// "stop once" form: every trial starts; rung k sits at minResource · ηᵏ training steps (below
// maxResource). When a trial reaches a rung, whoever trains it decides on the spot from the results
// already recorded at that rung, by any process: with n results there (this one included) the trial
// goes on when it ranks among the best max(1, ⌊n / η⌋), otherwise it stops there for good. A trial that
// reaches maxResource ends there. The decision and the result are written in one transaction holding
// the sweep row's lock (src/db/learning.ts decideRung), so two workers finishing a rung at once see
// each other's results in some order and never decide on the same stale list.
import type { Db } from "../db/index.ts";
import { decideRung } from "../db/learning.ts";
import { ValidationError } from "../errors.ts";
import {
  type EarlyStoppingConfig,
  isBetter,
  validateWatch,
  type WatchedMetric,
  type WatchMode,
} from "./watch.ts";

export interface AshaConfig {
  metric: WatchedMetric;
  mode: WatchMode;
  /** Steps at the first rung (≥ 1). */
  minResource: number;
  /** Steps at which a trial ends (> minResource). */
  maxResource: number;
  /** η: each rung keeps about 1/η of the trials that reach it (integer ≥ 2). */
  reductionFactor: number;
  /** TRAIN_LOSS_SMOOTHED's EMA smoothing. */
  smoothing: number;
}

function intField(o: Record<string, unknown>, name: string, min: number, max: number): number {
  const v = Object.hasOwn(o, name) ? o[name] : undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new ValidationError(
      `asha.${name}`,
      `asha.${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v ?? null)}`,
    );
  return v;
}

/** Validates a sweep's `asha` settings; errors name the field and what is accepted. */
export function validateAsha(input: unknown): AshaConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw new ValidationError(
      "asha",
      'asha must be an object like {"metric":"val_loss","minResource":20,"maxResource":180}',
    );
  const {
    minResource: _a,
    maxResource: _b,
    reductionFactor: _c,
    ...watch
  } = input as Record<string, unknown>;
  const w: EarlyStoppingConfig = validateWatch({ patience: 1, ...watch }, "asha");
  const o = input as Record<string, unknown>;
  const minResource = intField(o, "minResource", 1, 1_000_000_000);
  const maxResource = intField(o, "maxResource", minResource + 1, 1_000_000_000);
  const reductionFactor = Object.hasOwn(o, "reductionFactor") ? intField(o, "reductionFactor", 2, 100) : 3;
  return {
    metric: w.metric,
    mode: w.mode,
    minResource,
    maxResource,
    reductionFactor,
    smoothing: w.smoothing,
  };
}

/** The steps of the rungs at which decisions are made: minResource · ηᵏ below maxResource. */
export function rungSteps(c: Pick<AshaConfig, "minResource" | "maxResource" | "reductionFactor">): number[] {
  const out: number[] = [];
  for (let r = c.minResource; r < c.maxResource; r *= c.reductionFactor) out.push(r);
  return out;
}

/** Whether a result `value` goes on, given the values recorded at its rung before it. */
export function promotes(
  value: number,
  earlier: readonly number[],
  c: Pick<AshaConfig, "mode" | "reductionFactor">,
): boolean {
  const n = earlier.length + 1;
  const rank = 1 + earlier.filter((e) => isBetter(e, value, c.mode)).length;
  return rank <= Math.max(1, Math.floor(n / c.reductionFactor));
}

export interface RungVerdict {
  rung: number;
  promoted: boolean;
  /** Why the trial stops (null when it goes on). */
  reason: string | null;
}

/** One sweep trial's view of its rungs. */
export class AshaTrial {
  private readonly rungs: number[];
  constructor(
    private readonly db: Db,
    private readonly sweepId: number,
    private readonly runId: number,
    readonly config: AshaConfig,
  ) {
    this.rungs = rungSteps(config);
  }

  /** Called at each evaluation point with the steps trained so far and the watched value. */
  async reached(steps: number, value: number | null): Promise<RungVerdict | null> {
    if (steps >= this.config.maxResource)
      return {
        rung: this.rungs.length,
        promoted: false,
        reason: `ASHA: reached the sweep's maxResource of ${this.config.maxResource} steps`,
      };
    const rung = this.rungs.indexOf(steps);
    if (rung < 0) return null;
    if (value === null || !Number.isFinite(value))
      return {
        rung,
        promoted: false,
        reason: `ASHA: no ${this.config.metric} at rung ${rung} (step ${steps})`,
      };
    let rank = "";
    const row = await decideRung(
      this.db,
      { sweepId: this.sweepId, runId: this.runId, rung, step: steps, value },
      (earlier) => {
        rank = `${1 + earlier.filter((e) => isBetter(e, value, this.config.mode)).length} of ${earlier.length + 1}`;
        return promotes(value, earlier, this.config);
      },
    );
    if (row.promoted) return { rung, promoted: true, reason: null };
    return {
      rung,
      promoted: false,
      reason: `ASHA: stopped at rung ${rung} (step ${steps}): ${this.config.metric} ${value.toPrecision(4)} ranked ${rank || "as decided before"}, only the best 1/${this.config.reductionFactor} go on`,
    };
  }
}
