// TensorBoard's scalar smoothing, the dashboard's formula (public/js/smooth.js), for API clients:
// an exponential moving average debiased like Adam's moments, so the first points are not dragged
// toward the zero the average starts from.
//   last_t = w · last_{t−1} + (1 − w) · y_t,  last_0 = 0
//   smoothed_t = last_t / (1 − w^t)            (t counts the finite points so far)
// Null or non-finite points pass through unchanged and do not advance t; w = 0 returns the series.
export function debiasedEma(values: readonly (number | null)[], weight: number): (number | null)[] {
  const out: (number | null)[] = new Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const y = values[i];
    if (y === null || !Number.isFinite(y)) {
      out[i] = y;
      continue;
    }
    last = last * weight + (1 - weight) * y;
    n++;
    const debias = weight === 1 ? 1 : 1 - weight ** n;
    out[i] = last / debias;
  }
  return out;
}

/** The accepted smoothing weights: 0 (off) up to, not including, 1 (a constant line). */
export function checkSmoothing(weight: number): string | null {
  return Number.isFinite(weight) && weight >= 0 && weight < 1
    ? null
    : `smoothing must be a number from 0 (off) up to but not including 1 (TensorBoard's slider goes to 0.99), got ${weight}`;
}
