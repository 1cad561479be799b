// Seed groups: the downsampled series of several runs of one group (seed replicas of a setting) merged
// into one band. Each run contributes, per aligned bin of `width` steps, the count-weighted mean of its
// history buckets that end in the bin; across the n runs present in the bin:
//   mean = Σ y_r / n
//   std  = √(Σ (y_r − mean)² / (n − 1))    (sample std across runs; 0 when n = 1)
//   min, max over the runs' values
// so the band says how far a run of the setting may land from the mean at that step.

export interface RunBuckets {
  /** The run's history buckets for one metric: last step of the bucket, steps in it, their mean. */
  buckets: readonly { lastStep: number; count: number; mean: number }[];
  /** The run's length (totalSteps), for the shared progress axis. */
  totalSteps: number;
}

export interface BandPoint {
  /** The highest step of any run's bucket in the bin. */
  step: number;
  /** (step + 1) / the group's longest run: the shared x axis across groups of different lengths. */
  progress: number;
  /** Runs with a value in the bin. */
  runs: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

/** The band of a group on bins of `width` steps (the widest history bucket among its runs). */
export function band(members: readonly RunBuckets[], width: number): BandPoint[] {
  const w = Math.max(1, Math.floor(width));
  // bin → run index → [Σ count·mean, Σ count, highest step]
  const bins = new Map<number, Map<number, [number, number, number]>>();
  members.forEach((m, r) => {
    for (const b of m.buckets) {
      const bin = Math.floor(b.lastStep / w);
      let runs = bins.get(bin);
      if (!runs) {
        runs = new Map();
        bins.set(bin, runs);
      }
      const acc = runs.get(r) ?? [0, 0, -1];
      runs.set(r, [acc[0] + b.count * b.mean, acc[1] + b.count, Math.max(acc[2], b.lastStep)]);
    }
  });
  const total = Math.max(1, ...members.map((m) => m.totalSteps));
  return [...bins.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, runs]) => {
      const ys = [...runs.values()].map(([s, n]) => s / n);
      const step = Math.max(...[...runs.values()].map((v) => v[2]));
      const n = ys.length;
      const mean = ys.reduce((a, y) => a + y, 0) / n;
      const ss = ys.reduce((a, y) => a + (y - mean) ** 2, 0);
      return {
        step,
        progress: (step + 1) / total,
        runs: n,
        mean,
        std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
        min: Math.min(...ys),
        max: Math.max(...ys),
      };
    });
}

/**
 * A stable key of a run's setting: its hyperparameters without the seed (keys sorted), plus `extra`
 * (model and dataset), so runs with equal keys are seed replicas of one setting; or, with `only`, just
 * the values at those dotted paths.
 */
export function settingKey(
  hyperparameters: unknown,
  extra: Record<string, unknown>,
  only?: readonly string[],
) {
  const hp =
    typeof hyperparameters === "object" && hyperparameters !== null && !Array.isArray(hyperparameters)
      ? (hyperparameters as Record<string, unknown>)
      : {};
  const picked: Record<string, unknown> = only ? pick(hp, only) : { ...extra, ...hp };
  delete picked.seed;
  return stableJson(picked);
}

/** The values at dotted paths ("batchSize", "optimizer.lr"); null where a path is absent. */
function pick(o: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(
    paths.map((path) => {
      let v: unknown = o;
      for (const part of path.split(".")) {
        v = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[part] : undefined;
      }
      return [path, v ?? null];
    }),
  );
}

/** JSON with object keys sorted at every level, so equal settings give equal text. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}
