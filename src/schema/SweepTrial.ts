// ASHA sweeps in the schema: StartSweepInput.asha and Sweep.trials (each run's rung, promoted, stopped).
// The rule and its transaction live in src/runs/asha.ts and src/db/learning.ts.
import type { Run } from "../db/index.ts";
import type { SweepReport } from "../runs/sweep.ts";
import { builder } from "./builder.ts";
import { WatchedMetricEnum, WatchModeEnum } from "./EarlyStopping.ts";
import { RunType } from "./Run.ts";

export const AshaInput = builder.inputType("AshaInput", {
  description:
    "Asynchronous successive halving (Determined's adaptive search, stop-once form): rung k is at minResource · reductionFactorᵏ steps; a trial reaching a rung goes on only when it ranks among the best max(1, ⌊n / reductionFactor⌋) of the n trials that reached it so far",
  fields: (t) => ({
    metric: t.field({
      type: WatchedMetricEnum,
      required: true,
      description: "The metric trials are ranked by",
    }),
    mode: t.field({
      type: WatchModeEnum,
      description: "MIN or MAX; default MAX for VAL_ACCURACY, MIN otherwise",
    }),
    minResource: t.int({ required: true, description: "Steps at the first rung (≥ 1)" }),
    maxResource: t.int({
      required: true,
      description:
        "Steps at which every trial ends (> minResource); a run with fewer total steps ends sooner",
    }),
    reductionFactor: t.int({
      description: "η: about 1/η of the trials reaching a rung go on (2–100, default 3)",
    }),
    smoothing: t.float({ description: "TRAIN_LOSS_SMOOTHED: the moving average's smoothing (default 0.9)" }),
  }),
});

export interface SweepTrial {
  run: Run;
  rung: number | null;
  value: number | null;
  promoted: boolean;
  stopped: boolean;
}

/** Each run's highest recorded rung and its decision, in the sweep's run order. */
export function sweepTrials(s: SweepReport): SweepTrial[] {
  return s.runs.map((run) => {
    const mine = s.rungs.filter((r) => r.runId === run.id);
    const top = mine[mine.length - 1];
    return {
      run,
      rung: top?.rung ?? null,
      value: top?.value ?? null,
      promoted: top?.promoted ?? false,
      stopped: top !== undefined && !top.promoted,
    };
  });
}

export const SweepTrialType = builder.objectRef<SweepTrial>("SweepTrial").implement({
  description: "One ASHA trial: the highest rung it reached and the decision made there",
  fields: (t) => ({
    run: t.field({ type: RunType, description: "The trial's run", resolve: (x) => x.run }),
    rung: t.exposeInt("rung", {
      nullable: true,
      description: "The highest rung reached (0 = the first, at minResource steps); null before the first",
    }),
    value: t.exposeFloat("value", { nullable: true, description: "The watched metric at that rung" }),
    promoted: t.exposeBoolean("promoted", { description: "true when the trial went on past that rung" }),
    stopped: t.exposeBoolean("stopped", { description: "true when ASHA stopped the trial at that rung" }),
  }),
});
