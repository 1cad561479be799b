// "Why does the loss fluctuate?": the run's noise report (Run.noise): the batch-loss variance split
// into sampling, dropout and learning (drift) over time as stacked shares, the clean trend drawn over
// the raw batch loss, B_noise against the batch size, and the sentence the server generates.
import { alignTables, Chart, COLORS, chartCard } from "./charts.js";
import { h, num, showError } from "./dom.js";
import { gql } from "./gql.js";
import { ACTIVE } from "./run-header.js";

const NOISE = `query Noise($id: ID!) {
  run(id: $id) {
    ... on Run {
      noise(recent: 5, maxPoints: 300) {
        enabled batchSize bNoise sentence
        shares { sampling dropout drift probes }
        points { lastStep cleanLoss samplingShare dropoutShare driftShare bNoise }
      }
      history(metrics: [LOSS], maxPoints: 500) { buckets { lastStep loss { mean } } }
    }
  }
}`;

const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`);
const stat = (label, value, hint) =>
  h("div", { class: "stat", title: hint }, h("span", { class: "muted" }, label), h("strong", {}, value));

function charts(grid, disposers) {
  const mk = (key, title, hint, opts) => {
    const c = chartCard(grid, title, hint);
    const chart = new Chart(c.el, { readout: c.readout, ...opts });
    window.__gradstream.charts[key] = chart;
    disposers.push(() => chart.destroy());
    return chart;
  };
  return {
    shares: mk(
      "noiseShares",
      "Shares of the loss variance",
      "Stacked: sampling, + dropout, + drift (learning)",
      {
        yLabel: "share",
        yRange: [0, 1],
        series: [
          { label: "sampling", color: COLORS[0] },
          { label: "+ dropout", color: COLORS[1] },
          { label: "+ drift", color: COLORS[2] },
        ],
      },
    ),
    trend: mk(
      "noiseTrend",
      "Clean trend over the batch loss",
      "Probe-set loss with dropout off vs raw batch loss",
      {
        yLabel: "loss",
        series: [
          { label: "batch loss", color: COLORS[0], faint: true },
          { label: "clean trend", color: COLORS[3], width: 3 },
        ],
      },
    ),
    bNoise: mk(
      "noiseScale",
      "B_noise vs batch size",
      "Gradient noise scale tr(Σ)/|G|² (McCandlish et al. 2018)",
      {
        yLabel: "samples",
        series: [
          { label: "B_noise", color: COLORS[4] },
          { label: "batch size", color: COLORS[5] ?? COLORS[1], dash: [6, 4] },
        ],
      },
    ),
  };
}

function draw(c, stats, sentence, r) {
  const n = r.noise;
  const p = n.points.filter((x) => x.samplingShare !== null);
  const xs = p.map((x) => x.lastStep);
  const s = p.map((x) => x.samplingShare);
  const sd = p.map((x, i) => s[i] + x.dropoutShare);
  c.shares.setData(xs, [s, sd, p.map((x, i) => sd[i] + x.driftShare)]);
  const loss = [r.history.buckets.map((b) => b.lastStep), r.history.buckets.map((b) => b.loss?.mean ?? null)];
  const clean = [n.points.map((x) => x.lastStep), n.points.map((x) => x.cleanLoss)];
  const [steps, raw, trend] = alignTables([loss, clean]);
  c.trend.setData(Array.from(steps), [Array.from(raw), Array.from(trend)]);
  const b = n.points.filter((x) => x.bNoise !== null);
  c.bNoise.setData(
    b.map((x) => x.lastStep),
    [b.map((x) => x.bNoise), b.map(() => n.batchSize)],
  );
  c.bNoise.el.dataset.points = String(b.length);
  sentence.textContent = n.enabled
    ? n.sentence
    : "Noise diagnostics are off for this run (noise: { enabled: false }).";
  stats.replaceChildren(
    stat(
      "B_noise",
      n.bNoise === null ? "–" : num(n.bNoise, 0),
      "Batches much larger than this barely reduce gradient noise",
    ),
    stat("Batch size", n.batchSize === null ? "–" : String(n.batchSize)),
    stat(
      "Sampling",
      pct(n.shares?.sampling),
      "Share of the batch-loss variance from which examples land in a batch",
    ),
    stat("Dropout", pct(n.shares?.dropout), "Share from dropout masks"),
    stat("Drift", pct(n.shares?.drift), "Share from the clean loss moving: learning"),
  );
}

/** `page`: { id, view, run, alive } of the run page. Refreshed every 2 s while the run is active. */
export function noisePanel(page) {
  const disposers = [];
  const stats = h("div", { class: "stats" });
  const sentence = h("p", { class: "explain noise-sentence" });
  const grid = h("div", { class: "charts three" });
  page.view.append(
    h("div", { class: "row section" }, h("h2", {}, "Why does the loss fluctuate?")),
    h("section", { class: "card" }, stats, sentence),
    grid,
  );
  const c = charts(grid, disposers);
  const load = async () => {
    const { run } = await gql(NOISE, { id: page.id });
    if (page.alive) draw(c, stats, sentence, run);
  };
  const reload = () => load().catch((err) => showError(page.view, err));
  reload();
  const timer = setInterval(() => {
    if (ACTIVE.includes(page.run.status)) reload();
  }, 2_000);
  return () => {
    clearInterval(timer);
    for (const d of disposers) d();
  };
}
