// Seed repeats of a sweep: every point trained over N consecutive seeds, so compare(groupBy: SEED)
// can draw each setting as a band (the seed-to-seed spread) around its mean.
import { RunConfigError } from "../train/config.ts";
import { MAX_SWEEP_RUNS, type SweepPoint } from "./sweep.ts";

const MAX_SEEDS = 100;

/** Each point repeated over `seeds` consecutive seeds from its own (space.seed, base.seed or 0). */
export function withSeeds(points: SweepPoint[], seeds = 1, base: Record<string, unknown> = {}): SweepPoint[] {
  if (!Number.isInteger(seeds) || seeds < 1 || seeds > MAX_SEEDS)
    throw new RunConfigError("seeds", `seeds must be an integer from 1 to ${MAX_SEEDS}, got ${seeds}`);
  if (seeds === 1) return points;
  if (points.length * seeds > MAX_SWEEP_RUNS)
    throw new RunConfigError(
      "seeds",
      `${points.length} points × ${seeds} seeds is more than ${MAX_SWEEP_RUNS} runs; use fewer seeds or narrow the space`,
    );
  const baseSeed = typeof base.seed === "number" && Number.isSafeInteger(base.seed) ? base.seed : 0;
  return points.flatMap((p) => {
    const first = p.seed ?? baseSeed;
    return Array.from({ length: seeds }, (_, i) => ({ ...p, seed: first + i }));
  });
}
