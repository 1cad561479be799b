// Multi-resolution rollups (maintained at write time) and the bucket plan for downsampled history.
// Pure functions: no SQL execution here.
import { type BatchRow, type CustomValue, METRICS } from "./types.ts";

/** Rollup widths in steps. Bucket b of level L covers steps [b·L, (b+1)·L − 1]. */
export const LEVELS = [10, 100, 1000, 10_000] as const;

export interface RollupDelta {
  level: number;
  bucket: number;
  count: number;
  firstStep: number;
  lastStep: number;
  /** Indexed like METRICS: rows carrying the metric, and min/max/sum over them (null when n is 0). */
  n: number[];
  min: (number | null)[];
  max: (number | null)[];
  sum: (number | null)[];
}

/** Aggregates newly inserted rows per (level, bucket); the store adds these onto stored rollups. */
export function rollupDeltas(rows: readonly BatchRow[]): RollupDelta[] {
  // Numeric keys (bucket · 4 + level index, exact below 2^53): a string key per row and level cost more
  // than the aggregation itself on the write path.
  const byKey = new Map<number, RollupDelta>();
  for (const row of rows) {
    for (let li = 0; li < LEVELS.length; li++) {
      const level = LEVELS[li];
      const bucket = Math.floor(row.step / level);
      const key = bucket * LEVELS.length + li;
      let d = byKey.get(key);
      if (!d) {
        d = {
          level,
          bucket,
          count: 0,
          firstStep: row.step,
          lastStep: row.step,
          n: METRICS.map(() => 0),
          min: METRICS.map(() => null),
          max: METRICS.map(() => null),
          sum: METRICS.map(() => null),
        };
        byKey.set(key, d);
      }
      d.count++;
      if (row.step < d.firstStep) d.firstStep = row.step;
      if (row.step > d.lastStep) d.lastStep = row.step;
      for (let i = 0; i < METRICS.length; i++) {
        const v = row[METRICS[i]];
        if (v === null) continue;
        const lo = d.min[i];
        const hi = d.max[i];
        d.n[i]++;
        d.min[i] = lo === null || v < lo ? v : lo;
        d.max[i] = hi === null || v > hi ? v : hi;
        d.sum[i] = (d.sum[i] ?? 0) + v;
      }
    }
  }
  return [...byKey.values()];
}

export interface CustomRollupDelta {
  name: string;
  level: number;
  bucket: number;
  count: number;
  firstStep: number;
  lastStep: number;
  min: number;
  max: number;
  sum: number;
}

/** rollupDeltas for custom metric values: one aggregate per (name, level, bucket). */
export function customRollupDeltas(values: readonly CustomValue[]): CustomRollupDelta[] {
  const byKey = new Map<string, CustomRollupDelta>();
  for (const { step, name, value } of values) {
    for (const level of LEVELS) {
      const bucket = Math.floor(step / level);
      const key = `${level}:${bucket}:${name}`;
      const d = byKey.get(key);
      if (!d) {
        byKey.set(key, {
          name,
          level,
          bucket,
          count: 1,
          firstStep: step,
          lastStep: step,
          min: value,
          max: value,
          sum: value,
        });
        continue;
      }
      d.count++;
      if (step < d.firstStep) d.firstStep = step;
      if (step > d.lastStep) d.lastStep = step;
      if (value < d.min) d.min = value;
      if (value > d.max) d.max = value;
      d.sum += value;
    }
  }
  return [...byKey.values()];
}

/**
 * How to answer a history request over the steps [first, last] actually present, with ≤ maxPoints buckets.
 * Output bucket k covers [k·W, (k+1)·W − 1] on an absolute grid (deterministic whatever the range).
 * W is a multiple of the largest stored width ≤ the ideal width ⌈n / maxPoints⌉. The range is then
 * covered by segments: whole rollup buckets at the coarsest level dividing W in the middle, finer levels
 * toward the edges, raw rows only for the last < 10 steps at each end. Every rollup bucket used lies
 * inside one output bucket and inside the range, so the edges are exact, and a request reads about
 * n / level + 2 · 9 · (number of levels) rows however long the run.
 */
export interface Segment {
  /** 1 for raw rows, else a rollup width. */
  level: number;
  /** Inclusive step range; multiples of `level` at both ends for rollup segments. */
  from: number;
  to: number;
}

export interface HistoryPlan {
  width: number;
  /** The coarsest level used. */
  level: number;
  segments: Segment[];
}

export function planHistory(first: number, last: number, maxPoints: number): HistoryPlan {
  const n = last - first + 1;
  const ideal = Math.max(1, Math.ceil(n / maxPoints));
  let base = 1;
  for (const l of LEVELS) if (l <= ideal) base = l;
  let width = Math.ceil(ideal / base) * base;
  // The absolute grid can cut the range into one bucket more than n / W: widen until it fits.
  if (maxPoints === 1) width = Math.max(width, Math.ceil((last + 1) / base) * base);
  while (Math.floor(last / width) - Math.floor(first / width) + 1 > maxPoints) width += base;
  const usable = [1, ...LEVELS.filter((l) => width % l === 0)];
  const segments = cover(first, last, usable, usable.length - 1);
  return { width, level: Math.max(...segments.map((s) => s.level)), segments };
}

function cover(a: number, b: number, levels: readonly number[], i: number): Segment[] {
  if (a > b) return [];
  const level = levels[i];
  if (level === 1) return [{ level: 1, from: a, to: b }];
  const s = Math.ceil(a / level) * level;
  const e = Math.floor((b + 1) / level) * level - 1;
  if (s > e) return cover(a, b, levels, i - 1);
  return [...cover(a, s - 1, levels, i - 1), { level, from: s, to: e }, ...cover(e + 1, b, levels, i - 1)];
}

/**
 * One partial aggregate row as returned by the history SQL: n_x, min_x, max_x, sum_x per requested
 * series x (min/max/sum null when n_x is 0).
 */
export interface PartialBucket {
  ob: number;
  n: number;
  firstStep: number;
  lastStep: number;
  stats: Record<string, number | null>;
}

const least = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const most = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
const plus = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : a + b);

export function mergePartials(parts: readonly PartialBucket[], metrics: readonly string[]) {
  const merged = new Map<number, PartialBucket>();
  for (const p of parts) {
    const m = merged.get(p.ob);
    if (!m) {
      merged.set(p.ob, { ...p, stats: { ...p.stats } });
      continue;
    }
    m.n += p.n;
    m.firstStep = Math.min(m.firstStep, p.firstStep);
    m.lastStep = Math.max(m.lastStep, p.lastStep);
    for (const metric of metrics) {
      m.stats[`n_${metric}`] = Number(m.stats[`n_${metric}`] ?? 0) + Number(p.stats[`n_${metric}`] ?? 0);
      m.stats[`min_${metric}`] = least(m.stats[`min_${metric}`], p.stats[`min_${metric}`]);
      m.stats[`max_${metric}`] = most(m.stats[`max_${metric}`], p.stats[`max_${metric}`]);
      m.stats[`sum_${metric}`] = plus(m.stats[`sum_${metric}`], p.stats[`sum_${metric}`]);
    }
  }
  return [...merged.values()].sort((a, b) => a.ob - b.ob);
}
