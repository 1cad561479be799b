// Rolling statistics that answer "does accuracy hold while the loss fluctuates?". Pure functions.
//
// For a window of the last w batches ending at step i:
//   mean  μ = Σx / w
//   std   σ = √(Σx²/w − μ²)          (population std of the window: it describes these w batches)
//   cv      = σ / |μ|                  (null when μ = 0: spread relative to level is undefined)
//   corr    = cov(loss, acc) / (σ_loss · σ_acc),  cov = Σ(loss·acc)/w − μ_loss·μ_acc
//             (null when either σ is 0)
// Running sums make each window O(1); clamping σ² at 0 absorbs cancellation on flat windows.

export interface WindowStats {
  mean: number;
  std: number;
  cv: number | null;
}

export interface FluctuationPoint {
  /** Step of the last batch in the window. */
  step: number;
  loss: WindowStats;
  accuracy: WindowStats;
  /** Pearson correlation of loss and accuracy within the window. */
  correlation: number | null;
}

export interface FluctuationSummary {
  window: number;
  points: FluctuationPoint[];
  /** Over every batch in the range (not windowed). */
  overall: { loss: WindowStats; accuracy: WindowStats; correlation: number | null; batches: number };
}

function stats(sum: number, sumSq: number, n: number): WindowStats {
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  return { mean, std, cv: mean === 0 ? null : std / Math.abs(mean) };
}

function corr(sxy: number, a: WindowStats, b: WindowStats, n: number): number | null {
  if (a.std === 0 || b.std === 0) return null;
  const r = (sxy / n - a.mean * b.mean) / (a.std * b.std);
  return Math.max(-1, Math.min(1, r));
}

export interface StepValues {
  step: number;
  loss: number;
  accuracy: number;
}

/**
 * Rolling window statistics of loss and accuracy, one point per batch from the w-th on (a run shorter
 * than the window gives no points, but still an overall summary). `maxPoints` thins the points evenly
 * (always keeping the last), so a chart gets a bounded series for any run length.
 */
export function fluctuation(
  rows: readonly StepValues[],
  window: number,
  maxPoints = 1000,
): FluctuationSummary {
  if (!Number.isInteger(window) || window < 2)
    throw new Error(`window must be an integer ≥ 2, got ${window}`);
  if (!Number.isInteger(maxPoints) || maxPoints < 1)
    throw new Error(`maxPoints must be a positive integer, got ${maxPoints}`);
  const n = rows.length;
  let sl = 0;
  let sl2 = 0;
  let sa = 0;
  let sa2 = 0;
  let sla = 0;
  const points: FluctuationPoint[] = [];
  const total = Math.max(0, n - window + 1);
  const stride = Math.max(1, Math.ceil(total / maxPoints));
  for (let i = 0; i < n; i++) {
    const { loss, accuracy } = rows[i];
    sl += loss;
    sl2 += loss * loss;
    sa += accuracy;
    sa2 += accuracy * accuracy;
    sla += loss * accuracy;
    if (i >= window) {
      const o = rows[i - window];
      sl -= o.loss;
      sl2 -= o.loss * o.loss;
      sa -= o.accuracy;
      sa2 -= o.accuracy * o.accuracy;
      sla -= o.loss * o.accuracy;
    }
    const k = i - window + 1;
    if (k >= 0 && (total - 1 - k) % stride === 0) {
      const l = stats(sl, sl2, window);
      const a = stats(sa, sa2, window);
      points.push({ step: rows[i].step, loss: l, accuracy: a, correlation: corr(sla, l, a, window) });
    }
  }
  let tl = 0;
  let tl2 = 0;
  let ta = 0;
  let ta2 = 0;
  let tla = 0;
  for (const r of rows) {
    tl += r.loss;
    tl2 += r.loss * r.loss;
    ta += r.accuracy;
    ta2 += r.accuracy * r.accuracy;
    tla += r.loss * r.accuracy;
  }
  const empty: WindowStats = { mean: 0, std: 0, cv: null };
  const ol = n ? stats(tl, tl2, n) : empty;
  const oa = n ? stats(ta, ta2, n) : empty;
  return {
    window,
    points,
    overall: { loss: ol, accuracy: oa, correlation: n ? corr(tla, ol, oa, n) : null, batches: n },
  };
}

/**
 * The (loss, accuracy) pairs the windows are computed over, in step order. A row with both is one pair.
 * A trainer that logs them on separate rows (an EXTERNAL run: `Batch Loss: …` and `Batch Accuracy: …`
 * printed on two lines become two steps) gets each value paired with the next row's complementary
 * one: a loss-only row followed by an accuracy-only row is one pair, at the later step. Each value is
 * used once (no carrying forward, which would count a value twice and inflate the correlation); a value
 * left without a partner (two losses in a row) is dropped.
 */
export function lossAccuracyPairs(
  rows: readonly { step: number; loss: number | null; accuracy: number | null }[],
): { step: number; loss: number; accuracy: number }[] {
  const out: { step: number; loss: number; accuracy: number }[] = [];
  let loss: number | null = null;
  let accuracy: number | null = null;
  for (const r of rows) {
    if (r.loss !== null && r.accuracy !== null) {
      out.push({ step: r.step, loss: r.loss, accuracy: r.accuracy });
      loss = accuracy = null;
      continue;
    }
    if (r.loss !== null) {
      if (accuracy !== null) {
        out.push({ step: r.step, loss: r.loss, accuracy });
        accuracy = null;
      } else loss = r.loss;
    } else if (r.accuracy !== null) {
      if (loss !== null) {
        out.push({ step: r.step, loss, accuracy: r.accuracy });
        loss = null;
      } else accuracy = r.accuracy;
    }
  }
  return out;
}
