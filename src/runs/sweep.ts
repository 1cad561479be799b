// Hyperparameter sweeps: a grid or a random search over learning rate, batch size, optimizer, dropout
// on/off and seed, expanded into ordinary runs that whichever workers are free train (in a cluster the
// PostgreSQL queue shares them out; in one process the FIFO queue runs them in turn). The batch-size
// question (how much noisier is batch 10 than batch 100?) becomes one call: batchSize [10, 100].
import type { Db, JsonObject, ModelInfo, Run } from "../db/index.ts";
import { type AshaRung, sweepRungs } from "../db/learning.ts";
import { createSweep, getSweep, type Sweep, sweepRuns } from "../db/sweeps.ts";
import { OPTIMIZER_KINDS, RunConfigError } from "../train/config.ts";
import { mulberry32 } from "../train/data/prng.ts";
import { type AshaConfig, validateAsha } from "./asha.ts";
import { withSeeds } from "./sweep-seeds.ts";
import type { RunManager, StartRunInput } from "./types.ts";

export interface SweepSpace {
  lr?: number[];
  batchSize?: number[];
  optimizer?: string[];
  dropout?: boolean[];
  seed?: number[];
}

export interface SweepInput {
  name?: string;
  modelId: number;
  dataset: StartRunInput["dataset"];
  /** The run config every point starts from (validated per run by the manager). */
  base?: Record<string, unknown>;
  strategy: "grid" | "random";
  space: SweepSpace;
  /** random: how many runs to sample (default 8). */
  samples?: number;
  /** random: seed of the sampler, so a sweep is reproducible (default 0). */
  samplerSeed?: number;
  /** Repeat every point over this many consecutive seeds from the point's own (default 1). */
  seeds?: number;
  tags?: string[];
  /** Successive halving over the points (asha.ts): untrusted, validated by validateAsha. */
  asha?: unknown;
}

export type SweepPoint = {
  lr?: number;
  batchSize?: number;
  optimizer?: string;
  dropout?: boolean;
  seed?: number;
};

export const MAX_SWEEP_RUNS = 256;
const DIMS = ["lr", "batchSize", "optimizer", "dropout", "seed"] as const;

function checkSpace(space: SweepSpace): void {
  for (const d of DIMS) {
    const v = space[d];
    if (v !== undefined && (!Array.isArray(v) || v.length === 0))
      throw new RunConfigError(`space.${d}`, `space.${d} must be a non-empty list or left out`);
  }
  for (const o of space.optimizer ?? [])
    if (!(OPTIMIZER_KINDS as readonly string[]).includes(o))
      throw new RunConfigError(
        "space.optimizer",
        `space.optimizer: unknown optimizer "${o}"; known: ${OPTIMIZER_KINDS.join(", ")}`,
      );
}

/** The points of a sweep, in a deterministic order (grid: last dimension fastest; random: seeded). */
export function expandSweep(
  input: Pick<SweepInput, "strategy" | "space" | "samples" | "samplerSeed" | "seeds" | "base">,
): SweepPoint[] {
  checkSpace(input.space);
  const dims = DIMS.filter((d) => input.space[d] !== undefined);
  let points: SweepPoint[];
  if (input.strategy === "grid") {
    points = [{}];
    for (const d of dims) {
      const values = input.space[d] as (number | string | boolean)[];
      points = points.flatMap((p) => values.map((v) => ({ ...p, [d]: v })));
      if (points.length > MAX_SWEEP_RUNS)
        throw new RunConfigError(
          "space",
          `the grid has more than ${MAX_SWEEP_RUNS} points; narrow the space`,
        );
    }
  } else if (input.strategy === "random") {
    const n = input.samples ?? 8;
    if (!Number.isInteger(n) || n < 1 || n > MAX_SWEEP_RUNS)
      throw new RunConfigError("samples", `samples must be an integer from 1 to ${MAX_SWEEP_RUNS}, got ${n}`);
    const rand = mulberry32(input.samplerSeed ?? 0);
    points = Array.from({ length: n }, () => {
      const p: SweepPoint = {};
      for (const d of dims) {
        const values = input.space[d] as (number | string | boolean)[];
        Object.assign(p, { [d]: values[Math.floor(rand() * values.length)] });
      }
      return p;
    });
  } else {
    throw new RunConfigError(
      "strategy",
      `strategy must be grid or random, got ${JSON.stringify(input.strategy)}`,
    );
  }
  return withSeeds(points, input.seeds, input.base);
}

/** A point applied to the base config: optimizer kind / lr merge into the optimizer object. */
export function pointConfig(base: Record<string, unknown>, p: SweepPoint): Record<string, unknown> {
  const cfg: Record<string, unknown> = { ...base };
  if (p.optimizer !== undefined || p.lr !== undefined) {
    const b = base.optimizer;
    const opt: Record<string, unknown> =
      typeof b === "string" ? { kind: b } : typeof b === "object" && b !== null ? { ...b } : { kind: "sgd" };
    if (p.optimizer !== undefined && p.optimizer !== opt.kind) {
      // Another optimizer's hyperparameters (momentum vs betas) do not carry over; lr does.
      for (const k of Object.keys(opt)) if (k !== "lr") delete opt[k];
      opt.kind = p.optimizer;
    }
    if (p.lr !== undefined) opt.lr = p.lr;
    cfg.optimizer = opt;
  }
  if (p.batchSize !== undefined) cfg.batchSize = p.batchSize;
  if (p.seed !== undefined) cfg.seed = p.seed;
  if (p.dropout !== undefined) cfg.dropout = p.dropout;
  return cfg;
}

function label(p: SweepPoint): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
}

/**
 * An ASHA trial evaluates at every rung: validation.everySteps is minResource unless the base sets a
 * divisor of it (rungs are minResource · ηᵏ, so every rung then falls on an evaluation point).
 */
function withRungEvaluations(
  config: Record<string, unknown>,
  asha: AshaConfig | null,
): Record<string, unknown> {
  if (!asha) return config;
  const v = config.validation;
  const validation: Record<string, unknown> =
    typeof v === "number" ? { fraction: v } : typeof v === "object" && v !== null ? { ...v } : {};
  const every = validation.everySteps;
  if (every === undefined || every === null) validation.everySteps = asha.minResource;
  else if (typeof every !== "number" || asha.minResource % every !== 0)
    throw new RunConfigError(
      "base.validation.everySteps",
      `with asha, base.validation.everySteps must divide asha.minResource (${asha.minResource}), got ${JSON.stringify(every)}; leave it out to evaluate at every rung`,
    );
  return { ...config, validation };
}

/** Creates the sweep and starts one run per point; resolves with the sweep and its QUEUED runs. */
export async function startSweep(
  runs: RunManager,
  db: Db,
  input: SweepInput,
): Promise<{ sweep: Sweep; runs: Run[] }> {
  const points = expandSweep(input);
  const asha = input.asha == null ? null : validateAsha(input.asha);
  const configOf = (p: SweepPoint) => withRungEvaluations(pointConfig(input.base ?? {}, p), asha);
  // Every point is admitted before any run exists, so a bad one leaves no half-started sweep.
  let model: ModelInfo | null = null;
  for (const p of points) {
    const admitted = await runs.admit({
      modelId: input.modelId,
      dataset: input.dataset,
      config: configOf(p),
    });
    model = admitted.model;
    if (asha && asha.metric !== "train_loss_smoothed" && admitted.dataset.valSize === 0)
      throw new RunConfigError(
        "asha.metric",
        `asha.metric ${asha.metric} needs a validation split: set base.validation.fraction (e.g. 0.2) or use train_loss_smoothed`,
      );
  }
  const name =
    input.name ?? `sweep ${model?.name ?? input.modelId} (${input.strategy}, ${points.length} runs)`;
  const sweep = await createSweep(db, {
    name,
    strategy: input.strategy,
    spec: JSON.parse(JSON.stringify({ ...input, asha })) as JsonObject,
  });
  const started: Run[] = [];
  for (const [i, p] of points.entries()) {
    const run = await runs.start({
      name: `${name} #${i + 1} ${label(p)}`.trim(),
      modelId: input.modelId,
      dataset: input.dataset,
      config: configOf(p),
      tags: [...(input.tags ?? []), `sweep:${sweep.id}`],
      // Set at creation: a trial may be launched before this loop ends, and it must know its sweep.
      sweepId: sweep.id,
    });
    started.push(run);
  }
  return { sweep, runs: started };
}

export interface SweepReport {
  sweep: Sweep;
  runs: Run[];
  /** The run with the highest best validation accuracy (ties: the earlier run); null before any has one. */
  best: Run | null;
  /** ASHA: every rung decision so far, by run then rung (empty for other sweeps). */
  rungs: AshaRung[];
}

export async function sweepReport(db: Db, sweepId: number): Promise<SweepReport | null> {
  const sweep = await getSweep(db, sweepId);
  if (!sweep) return null;
  const rs = await sweepRuns(db, sweepId);
  let best: Run | null = null;
  for (const r of rs)
    if (r.bestValAccuracy !== null && (best === null || r.bestValAccuracy > (best.bestValAccuracy ?? -1)))
      best = r;
  return { sweep, runs: rs, best, rungs: await sweepRungs(db, sweepId) };
}
