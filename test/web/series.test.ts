// The run page's column store (public/js/series.js, a browser ES module imported as it is served): a
// long run's chart ends at the latest step even when an overview re-fetch folded the whole raw tail
// into buckets (a race the dashboard test met when the run ended during a re-fetch).
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

interface Row {
  step: number;
  loss: number;
  accuracy: number;
  confidence: number;
  gradNorm: number;
}
interface Bucket {
  firstStep: number;
  lastStep: number;
  loss: { mean: number };
  accuracy: { mean: number };
  confidence: { mean: number };
  gradNorm: { mean: number };
}
interface Store {
  mode: string;
  append(rows: Row[]): void;
  setOverview(buckets: Bucket[], lastStep: number): void;
  setDetail(from: number, to: number, buckets: Bucket[] | null): void;
  compose(): { x: number[]; loss: (number | null)[] };
}
let SeriesStore: new (totalSteps: number) => Store;

beforeAll(async () => {
  const url = pathToFileURL(join(import.meta.dirname, "../../public/js/series.js")).href;
  ({ SeriesStore } = (await import(url)) as { SeriesStore: typeof SeriesStore });
});

const row = (step: number): Row => ({
  step,
  loss: 1 / (step + 1),
  accuracy: 0.5,
  confidence: 0.6,
  gradNorm: 1,
});
/** Buckets of `size` steps over [0, last], means of the rows above. */
function buckets(last: number, size: number): Bucket[] {
  const out: Bucket[] = [];
  for (let first = 0; first <= last; first += size) {
    const lastStep = Math.min(last, first + size - 1);
    let loss = 0;
    for (let s = first; s <= lastStep; s++) loss += row(s).loss;
    const mean = (v: number) => ({ mean: v });
    out.push({
      firstStep: first,
      lastStep,
      loss: mean(loss / (lastStep - first + 1)),
      accuracy: mean(0.5),
      confidence: mean(0.6),
      gradNorm: mean(1),
    });
  }
  return out;
}

describe("the run page's series store for a long run", () => {
  it("ends the chart at the latest step after an overview covering every row replaced the tail", () => {
    const store = new SeriesStore(25_000);
    expect(store.mode).toBe("sampled");
    store.append(Array.from({ length: 5_000 }, (_, i) => row(i)));
    store.setOverview(buckets(4_999, 25), 4_999);
    const cols = store.compose();
    expect(cols.x.at(-1)).toBe(4_999);
    expect(cols.loss.at(-1)).toBe(row(4_999).loss);
    expect(cols.x.every((x, i) => i === 0 || x > cols.x[i - 1])).toBe(true);
    // a zoomed detail slice before the end keeps the end too
    store.setDetail(
      1_000,
      2_000,
      buckets(2_000, 5).filter((b) => b.firstStep >= 1_000),
    );
    const zoomed = store.compose();
    expect(zoomed.x.at(-1)).toBe(4_999);
    expect(zoomed.x.every((x, i) => i === 0 || x > zoomed.x[i - 1])).toBe(true);
  });

  it("adds no extra point when the raw tail already ends at the latest step", () => {
    const store = new SeriesStore(25_000);
    store.append(Array.from({ length: 100 }, (_, i) => row(i)));
    store.setOverview(buckets(49, 25), 49);
    const cols = store.compose();
    expect(cols.x.filter((x) => x === 99)).toHaveLength(1);
    expect(cols.x.length).toBe(2 + 50);
  });
});
