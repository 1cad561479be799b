// NoiseReport: why the batch loss fluctuates (sampling, dropout, learning) and the gradient noise
// scale, from the noise.* custom metrics the trainer's probe stores (src/stats/noise.ts, src/train/probe.ts).
// Also Run.noise, and NoiseInput (startRun's per-run settings).
import type { Db, Run } from "../db/index.ts";
import { ValidationError } from "../errors.ts";
import {
  NOISE_METRIC_NAMES,
  NOISE_METRICS,
  type NoisePoint,
  type NoiseShares,
  type NoiseSummary,
  noisePoints,
  noiseSummary,
  noiseValues,
} from "../stats/noise.ts";
import { builder } from "./builder.ts";
import { RunType } from "./Run.ts";
import { checkMaxPoints } from "./resolve-helpers.ts";

export interface NoiseReport extends NoiseSummary {
  enabled: boolean;
  batchSize: number | null;
  points: NoisePoint[];
}

const NoiseSourceEnum = builder.enumType("NoiseSource", {
  description: "A cause of the batch loss's variance",
  values: {
    SAMPLING: { description: "Which examples land in each batch (shrinks as 1/batch size)" },
    DROPOUT: { description: "Which units each dropout mask drops" },
    DRIFT: { description: "Learning itself: the clean loss moving within the window" },
  } as const,
});

const CleanTrendEnum = builder.enumType("CleanTrend", {
  description: `Direction of the clean loss over the judged probes (a change of more than 1% counts)`,
  values: {
    FALLING: { description: "The clean loss fell: the model is still learning" },
    FLAT: { description: "Within ±1%: learning has stalled; what moves is noise" },
    RISING: { description: "The clean loss rose: training is getting worse" },
  } as const,
});

const num = (description: string) => ({ nullable: true as const, description });

const NoisePointType = builder.objectRef<NoisePoint>("NoisePoint").implement({
  description:
    "One probe (or the mean of the probes in a downsampled bucket): the batch-loss variance split into its causes. Variances are in squared loss units; null where the probe did not measure it (the first probe has no drift; a segment of one step has no observed variance)",
  fields: (t) => ({
    firstStep: t.exposeInt("firstStep", { description: "First probed step in the point" }),
    lastStep: t.exposeInt("lastStep", { description: "Last probed step in the point" }),
    cleanLoss: t.exposeFloat(
      "cleanLoss",
      num("Loss of the fixed probe batches with dropout off: the clean trend"),
    ),
    observedVariance: t.exposeFloat(
      "observedVar",
      num("Variance of the training batch losses since the previous probe"),
    ),
    samplingVariance: t.exposeFloat(
      "samplingVar",
      num("Variance of one batch's clean loss across the probe batches: sampling noise at this batch size"),
    ),
    dropoutVariance: t.exposeFloat(
      "dropoutVar",
      num("Variance of one batch's loss across dropout masks (0 without dropout)"),
    ),
    driftVariance: t.exposeFloat(
      "driftVar",
      num("Variance a linear move of the clean loss since the previous probe adds: learning"),
    ),
    samplingShare: t.exposeFloat("samplingShare", num("Sampling's share of sampling + dropout + drift, 0–1")),
    dropoutShare: t.exposeFloat("dropoutShare", num("Dropout's share of sampling + dropout + drift, 0–1")),
    driftShare: t.exposeFloat("driftShare", num("Drift's share of sampling + dropout + drift, 0–1")),
    explained: t.exposeFloat(
      "explained",
      num("(sampling + dropout + drift) / observed variance: ≈ 1 when the three account for the jumps"),
    ),
    bNoise: t.exposeFloat(
      "bNoise",
      num(
        "Gradient noise scale B_simple = tr(Σ)/|G|² (EMAs) at this point, in samples; null until |G|²'s EMA is positive",
      ),
    ),
  }),
});

const NoiseSharesType = builder.objectRef<NoiseShares>("NoiseShares").implement({
  description: "Each cause's share of the summed variances over the judged probes (each 0–1, summing to 1)",
  fields: (t) => ({
    sampling: t.exposeFloat("samplingShare", { description: "Share of sampling noise" }),
    dropout: t.exposeFloat("dropoutShare", { description: "Share of dropout noise" }),
    drift: t.exposeFloat("driftShare", { description: "Share of learning (the clean trend moving)" }),
    probes: t.exposeInt("probes", { description: "Probes the shares sum over" }),
  }),
});

export const NoiseReportType = builder.objectRef<NoiseReport>("NoiseReport").implement({
  description:
    "Why does the loss fluctuate? The batch-loss variance split into sampling noise, dropout noise and learning (drift), measured on a fixed probe set, and the gradient noise scale (McCandlish et al. 2018)",
  fields: (t) => ({
    enabled: t.exposeBoolean("enabled", {
      description: "Whether the run's trainer probes (false: started with noise { enabled: false })",
    }),
    batchSize: t.exposeInt("batchSize", {
      nullable: true,
      description: "The run's batch size (null if unknown)",
    }),
    bNoise: t.exposeFloat("bNoise", {
      nullable: true,
      description: "Latest B_noise in samples: batches much larger than this barely reduce gradient noise",
    }),
    dominant: t.field({
      type: NoiseSourceEnum,
      nullable: true,
      description: "The largest share over the judged probes (null before the second probe)",
      resolve: (r) => r.dominant,
    }),
    trend: t.field({
      type: CleanTrendEnum,
      nullable: true,
      description: "Direction of the clean loss over the judged probes (null before the second probe)",
      resolve: (r) => r.trend,
    }),
    trendChange: t.exposeFloat("trendChange", {
      nullable: true,
      description: "Relative change of the clean loss over the judged probes (−0.1 = fell 10%)",
    }),
    shares: t.field({
      type: NoiseSharesType,
      nullable: true,
      description: "Shares over the judged probes (null before one measured all three parts)",
      resolve: (r) => r.shares,
    }),
    sentence: t.exposeString("sentence", {
      description: "The verdict in plain words, generated from the numbers",
    }),
    points: t.field({
      type: [NoisePointType],
      description: "The decomposition over time, one point per probe or per downsampled bucket of probes",
      resolve: (r) => r.points,
    }),
  }),
});

type Hyper = { batchSize?: unknown; noise?: unknown };

/** Builds the report from the stored noise.* metrics, downsampled to at most maxPoints points. */
export async function noiseReport(db: Db, run: Run, recent: number, maxPoints: number): Promise<NoiseReport> {
  const hp = (run.hyperparameters ?? {}) as Hyper;
  const settings =
    typeof hp.noise === "object" && hp.noise !== null ? (hp.noise as { emaDecay?: unknown }) : {};
  const decay = typeof settings.emaDecay === "number" ? settings.emaDecay : 0.9;
  const history = await db.history(run.id, { metrics: [], custom: NOISE_METRIC_NAMES, maxPoints });
  const buckets = history.buckets.filter((b) => b.custom[NOISE_METRICS.cleanLoss] !== undefined);
  const points = noisePoints(
    buckets.map((b) => ({
      firstStep: b.firstStep,
      lastStep: b.lastStep,
      values: noiseValues(Object.fromEntries(Object.entries(b.custom).map(([k, s]) => [k, s.mean]))),
    })),
    decay,
  );
  const batchSize = typeof hp.batchSize === "number" ? hp.batchSize : null;
  return { ...noiseSummary(points, batchSize, recent), enabled: hp.noise !== false, batchSize, points };
}

builder.objectField(RunType, "noise", (t) =>
  t.field({
    type: NoiseReportType,
    description:
      "Why the batch loss fluctuates: sampling vs dropout vs learning, and B_noise against the batch size (from the noise probe; an EXTERNAL run gets it from the noise.* custom metrics it logs)",
    args: {
      recent: t.arg.int({
        defaultValue: 5,
        required: true,
        description: "How many of the latest points the verdict, shares and trend judge (1–1000)",
      }),
      maxPoints: t.arg.int({
        defaultValue: 200,
        required: true,
        description: "Most points returned (downsampled)",
      }),
    },
    resolve: (run, args, ctx) => {
      checkMaxPoints(ctx, args.maxPoints);
      if (args.recent < 1 || args.recent > 1000)
        throw new ValidationError("recent", `recent must be from 1 to 1000, got ${args.recent}`);
      return noiseReport(ctx.db, run, args.recent, args.maxPoints);
    },
  }),
);

export const NoiseInput = builder.inputType("NoiseInput", {
  description:
    "Noise diagnostics for this run (on by default): a fixed probe set every `every` steps splits the loss variance into sampling, dropout and drift, and half-batch gradients give B_noise",
  fields: (t) => ({
    enabled: t.boolean({ description: "false turns the diagnostics off for this run (default true)" }),
    every: t.int({ description: "Probe every N training steps and after the last (1–1e9, default 300)" }),
    probeBatches: t.int({ description: "Fixed probe batches of the run's batch size (2–64, default 4)" }),
    masks: t.int({ description: "Dropout masks per probe batch (2–64, default 4)" }),
    gradBatches: t.int({
      description: "Fresh batches per probe split into halves for B_noise (1–1024, default 2)",
    }),
    emaDecay: t.float({ description: "EMA decay of |G|² and tr(Σ) per probe (0–0.999, default 0.9)" }),
  }),
});

/** NoiseInput as the run configuration's `noise` field (validated with the rest of the config). */
export function noiseConfig(input: typeof NoiseInput.$inferInput): Record<string, unknown> | false {
  if (input.enabled === false) return false;
  const { enabled: _on, ...rest } = input;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== null && v !== undefined));
}
