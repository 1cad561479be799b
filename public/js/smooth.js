// TensorBoard's scalar smoothing: an exponential moving average debiased like Adam's moments, so the
// first points are not dragged toward the zero the average starts from.
//   last_t = w · last_{t−1} + (1 − w) · y_t,  last_0 = 0
//   smoothed_t = last_t / (1 − w^t)            (t counts the finite points so far)
// Non-finite points pass through unchanged and do not advance t; w = 0 returns the series as is.
export function debiasedEma(values, weight) {
  const out = new Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const y = values[i];
    if (y === null || y === undefined || !Number.isFinite(y)) {
      out[i] = y ?? null;
      continue;
    }
    last = last * weight + (1 - weight) * y;
    n++;
    const debias = weight === 1 ? 1 : 1 - weight ** n;
    out[i] = last / debias;
  }
  return out;
}
