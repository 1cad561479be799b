// The per-batch columns a run page draws. Runs up to RAW_LIMIT steps are held raw (every batch, from
// the subscription's replay and then live). Longer runs start from the downsampled `history` overview
// (bucket means), take live batches as a raw tail, re-fetch the overview when the tail grows, and
// splice in a finer `history` slice for the zoomed range: the chart never holds more than a few
// thousand points, whatever the run's length.
export const RAW_LIMIT = 20_000;
export const OVERVIEW_POINTS = 1_000;
const TAIL_LIMIT = 4_000;

export const METRICS = ["loss", "accuracy", "confidence", "gradNorm"];

function columns() {
  return { x: [], loss: [], accuracy: [], confidence: [], gradNorm: [] };
}

function pushRow(cols, x, r) {
  cols.x.push(x);
  for (const m of METRICS) cols[m].push(r[m]);
}

/** History buckets → columns at each bucket's mid step. */
export function fromBuckets(buckets) {
  const cols = columns();
  for (const b of buckets) {
    pushRow(cols, (b.firstStep + b.lastStep) / 2, {
      loss: b.loss?.mean ?? null,
      accuracy: b.accuracy?.mean ?? null,
      confidence: b.confidence?.mean ?? null,
      gradNorm: b.gradNorm?.mean ?? null,
    });
  }
  return cols;
}

export class SeriesStore {
  constructor(totalSteps) {
    this.mode = totalSteps > RAW_LIMIT ? "sampled" : "raw";
    this.tail = columns(); // raw rows (all of them in raw mode)
    this.overview = columns();
    this.overviewLast = -1; // last step the overview covers
    this.detail = null; // { from, to, cols }
    this.lastStep = -1; // last step received (the stream's resume cursor)
    this.steps = []; // every step received live or replayed, in arrival order (tests check it)
    // The step the stream first resumed after: -1 in raw mode; in sampled mode the last step the first
    // overview covered, which a run already under way has gone past when its page opens.
    this.streamFrom = null;
    this.latest = null; // the last row received, kept when an overview re-fetch folds the tail away
  }

  /** Rows from the stream (already deduplicated by the stream, in step order). */
  append(rows) {
    for (const r of rows) {
      pushRow(this.tail, r.step, r);
      this.steps.push(r.step);
      this.lastStep = r.step;
    }
    if (rows.length) this.latest = rows[rows.length - 1];
  }

  /** The tail has grown past what a chart should redraw every frame: time to re-fetch the overview. */
  get needsCompaction() {
    return this.mode === "sampled" && this.tail.x.length > TAIL_LIMIT;
  }

  setOverview(buckets, lastStep) {
    this.overview = fromBuckets(buckets);
    this.overviewLast = lastStep;
    // Tail rows the overview now covers are dropped.
    const keep = this.tail.x.findIndex((x) => x > lastStep);
    const cut = keep === -1 ? this.tail.x.length : keep;
    for (const k of Object.keys(this.tail)) this.tail[k] = this.tail[k].slice(cut);
  }

  setDetail(from, to, buckets) {
    this.detail = buckets ? { from, to, cols: fromBuckets(buckets) } : null;
  }

  /** Columns to draw: [x, loss, accuracy, confidence, gradNorm] in step order. */
  compose() {
    if (this.mode === "raw") return this.tail;
    const out = columns();
    const add = (cols, keep) => {
      for (let i = 0; i < cols.x.length; i++) {
        if (!keep(cols.x[i])) continue;
        out.x.push(cols.x[i]);
        for (const m of METRICS) out[m].push(cols[m][i]);
      }
    };
    const d = this.detail;
    if (d) {
      add(this.overview, (x) => x < d.from);
      add(d.cols, () => true);
      add(this.overview, (x) => x > d.to);
      add(this.tail, (x) => x > Math.max(d.to, this.overviewLast));
    } else {
      add(this.overview, () => true);
      add(this.tail, (x) => x > this.overviewLast);
    }
    // An overview fetched after the last row arrived covers it with a bucket drawn at its mid step, so
    // the line would stop short of the run's latest step: the latest row itself ends it.
    const r = this.latest;
    if (r && (out.x.length === 0 || r.step > out.x[out.x.length - 1])) pushRow(out, r.step, r);
    return out;
  }
}
