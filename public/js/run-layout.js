// A run page's layout and its charts: the toolbar (smoothing, stream state), the per-batch loss and
// accuracy charts, validation per epoch, and the fluctuation panel's three charts. Step charts share
// one cursor and zoom (uPlot sync key per run).
import { Chart, COLORS, chartCard } from "./charts.js";
import { h } from "./dom.js";
import { smoothingControl } from "./smoothing.js";

/** Appends the page's sections to `view`; `redraw` re-renders on a smoothing change. */
export function runLayout(view, redraw) {
  const smoothing = smoothingControl(() => redraw());
  const streamState = h("span", { class: "muted stream-state" });
  const els = {
    header: h("section", { class: "card run-head" }),
    smoothing,
    streamState,
    grid: h("div", { class: "charts" }),
    epochsGrid: h("div", { class: "charts" }),
    flucStats: h("div", { class: "stats" }),
    windowSelect: h(
      "select",
      { name: "window", title: "Rolling window in batches" },
      [10, 20, 50, 100].map((w) => h("option", { value: String(w), selected: w === 20 }, `window ${w}`)),
    ),
    flucGrid: h("div", { class: "charts three" }),
  };
  const toolbar = h(
    "div",
    { class: "toolbar" },
    smoothing.el,
    h("span", { class: "muted hint" }, "Drag across a chart to zoom, double-click to reset."),
    h("span", { class: "grow" }),
    streamState,
  );
  view.append(
    els.header,
    toolbar,
    els.grid,
    h("h2", { class: "section" }, "Validation per epoch"),
    els.epochsGrid,
    h(
      "div",
      { class: "row section" },
      h("h2", {}, "Fluctuation: why loss jumps while accuracy holds"),
      h("span", { class: "grow" }),
      els.windowSelect,
    ),
    h("section", { class: "card" }, els.flucStats),
    els.flucGrid,
  );
  return els;
}

const pair = (label, color) => [
  { label: `${label} (raw)`, color, faint: true },
  { label, color },
];

/** Creates the page's charts in `els`' grids; each is destroyed by a disposer pushed onto `disposers`. */
export function runCharts(els, id, onZoom, disposers) {
  const mk = (parent, key, title, hint, opts) => {
    const c = chartCard(parent, title, hint);
    const chart = new Chart(c.el, { readout: c.readout, ...opts });
    window.__gradstream.charts[key] = chart;
    disposers.push(() => chart.destroy());
    return chart;
  };
  const step = { sync: `run${id}`, onZoom };
  const charts = {
    loss: mk(els.grid, "loss", "Loss per batch", "Cross-entropy of each mini-batch", {
      yLabel: "loss",
      series: pair("loss", COLORS[0]),
      ...step,
    }),
    accuracy: mk(els.grid, "accuracy", "Accuracy per batch", "Fraction of each mini-batch classified right", {
      yLabel: "accuracy",
      series: pair("accuracy", COLORS[2]),
      yRange: [0, 1],
      ...step,
    }),
    epochLoss: mk(els.epochsGrid, "epochLoss", "Loss per epoch", "Mean training loss vs validation loss", {
      xLabel: "epoch",
      yLabel: "loss",
      series: [
        { label: "train", color: COLORS[0] },
        { label: "validation", color: COLORS[1], dash: [6, 4] },
      ],
    }),
    epochAcc: mk(els.epochsGrid, "epochAccuracy", "Accuracy per epoch", "Training vs validation accuracy", {
      xLabel: "epoch",
      yLabel: "accuracy",
      yRange: [0, 1],
      series: [
        { label: "train", color: COLORS[2] },
        { label: "validation", color: COLORS[3], dash: [6, 4] },
      ],
    }),
    cv: mk(els.flucGrid, "cv", "Rolling CV", "std / |mean| of loss and of accuracy over the rolling window", {
      yLabel: "CV",
      series: [
        { label: "loss CV", color: COLORS[0] },
        { label: "accuracy CV", color: COLORS[2] },
      ],
      ...step,
    }),
    confidence: mk(els.flucGrid, "confidence", "Mean confidence", "Mean max softmax probability per batch", {
      yLabel: "confidence",
      series: pair("confidence", COLORS[4]),
      ...step,
    }),
    gradNorm: mk(els.flucGrid, "gradNorm", "Gradient norm", "L2 norm of the gradient over all parameters", {
      yLabel: "‖g‖",
      series: pair("grad norm", COLORS[3]),
      ...step,
    }),
  };
  // Charts over steps: zoomed together.
  charts.steps = [charts.loss, charts.accuracy, charts.cv, charts.confidence, charts.gradNorm];
  return charts;
}

/** Validation per epoch, with a note when there is none yet or no validation split. */
export function drawEpochs(els, charts, epochs) {
  const e = [...epochs].sort((a, b) => a.epoch - b.epoch);
  const xs = e.map((r) => r.epoch + 1);
  charts.epochLoss.setData(xs, [e.map((r) => r.trainLoss), e.map((r) => r.valLoss)]);
  charts.epochAcc.setData(xs, [e.map((r) => r.trainAccuracy), e.map((r) => r.valAccuracy)]);
  const noVal = e.length > 0 && e.every((r) => r.valLoss === null);
  els.epochsGrid.classList.toggle("no-val", noVal || e.length === 0);
  els.epochsGrid.classList.toggle("empty", e.length === 0);
  els.epochsGrid.dataset.note =
    e.length === 0
      ? "No epoch has finished yet."
      : noVal
        ? "No validation split for this run: start one with a validation fraction to see the held-out curve."
        : "";
}
