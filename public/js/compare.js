// Compare runs: two or more runs overlaid on a shared axis, either training progress (so a batch-10
// run's 100 steps line up with a batch-100 run's 10) or the raw step, smoothed like the run page.
import { alignTables, Chart, COLORS, chartCard } from "./charts.js";
import { bandsSection } from "./compare-bands.js";
import { describeConfig, h, num, showError, statusBadge } from "./dom.js";
import { gql, runGlobalId } from "./gql.js";
import { debiasedEma } from "./smooth.js";
import { smoothingControl } from "./smoothing.js";

const RUNS = `query CompareCandidates {
  runs(first: 100) { edges { node { id databaseId name status totalSteps hyperparameters model { name } dataset { name } } } }
}`;
const SERIES = `query Compare($ids: [ID!]!, $metric: Metric!, $n: Int!) {
  compareRuns(ids: $ids, metric: $metric, maxPoints: $n) {
    run { id databaseId name status totalSteps hyperparameters model { name } dataset { name } }
    points { step progress mean }
  }
}`;
const FLUC = `query Fluc($id: ID!) {
  run(id: $id) {
    ... on Run { fluctuation(window: 10, maxPoints: 1) { overall { batches correlation loss { mean cv } accuracy { mean cv } } } }
  }
}`;

const EXTRA = [
  ["GRAD_NORM", "Gradient norm"],
  ["CONFIDENCE", "Mean confidence"],
  ["TRUE_CLASS_PROB", "True-class probability"],
  ["LR", "Learning rate"],
];

export function compareRuns(view, params) {
  // The URL carries run numbers (databaseId); the API takes global IDs.
  const selected = new Set(
    (params.get("ids") ?? "")
      .split(",")
      .filter((n) => /^\d+$/.test(n))
      .map(runGlobalId),
  );
  const numbers = () => candidates.filter((r) => selected.has(r.id)).map((r) => r.databaseId);
  let alive = true;
  let charts = [];
  let timer = null;
  const smoothing = smoothingControl(() => {
    draw();
    showBands();
  });
  const { axisSelect, extraSelect, bandsToggle, picker, grid, summary } = compareLayout(view, smoothing);
  const bands = bandsSection(grid.parentElement);
  const showBands = () => {
    if (!bandsToggle.checked || selected.size === 0) return bands.hide();
    bands.load([...selected], smoothing.value, axisSelect.value).catch((err) => showError(view, err));
  };

  let candidates = [];
  let series = { LOSS: [], ACCURACY: [], EXTRA: [] };

  function renderPicker() {
    picker.replaceChildren(
      ...candidates.map((r) =>
        h(
          "label",
          { class: `pick ${selected.has(r.id) ? "on" : ""}` },
          h("input", {
            type: "checkbox",
            value: r.id,
            checked: selected.has(r.id),
            onchange: (e) => {
              if (e.target.checked) selected.add(r.id);
              else selected.delete(r.id);
              history.replaceState(null, "", `#/compare?ids=${numbers().join(",")}`);
              renderPicker();
              load();
            },
          }),
          `#${r.databaseId} ${r.name}`,
          h("small", { class: "muted" }, ` ${describeConfig(r.hyperparameters)}`),
        ),
      ),
    );
  }

  function rebuildCharts(runs) {
    for (const c of charts) c.destroy();
    charts = buildCharts(grid, runs, axisSelect.value, extraSelect);
  }

  function draw() {
    drawSeries(charts, series, smoothing.value, axisSelect.value);
  }

  let shownIds = "";
  async function load() {
    clearTimeout(timer);
    const ids = [...selected];
    if (ids.length === 0) {
      series = { LOSS: [], ACCURACY: [], EXTRA: [] };
      shownIds = "";
      rebuildCharts([]);
      summary.replaceChildren();
      return;
    }
    try {
      const [loss, acc, extra] = await Promise.all(
        ["LOSS", "ACCURACY", extraSelect.value].map((metric) => gql(SERIES, { ids, metric, n: 1000 })),
      );
      if (!alive) return;
      series = { LOSS: loss.compareRuns, ACCURACY: acc.compareRuns, EXTRA: extra.compareRuns };
      const runs = series.LOSS.map((s) => s.run);
      const key = `${runs.map((r) => r.id).join(",")}|${axisSelect.value}`;
      if (key !== shownIds) {
        shownIds = key;
        rebuildCharts(runs);
      }
      draw();
      showBands();
      await summarize(runs);
      // Running runs keep growing: poll until they have all ended.
      if (alive && runs.some((r) => r.status === "RUNNING" || r.status === "QUEUED")) {
        timer = setTimeout(load, 1500);
      }
    } catch (err) {
      showError(view, err);
    }
  }

  async function summarize(runs) {
    const rows = await summaryRows(runs);
    if (alive) summary.replaceChildren(...rows);
  }

  axisSelect.addEventListener("change", load);
  extraSelect.addEventListener("change", load);
  bandsToggle.addEventListener("change", showBands);

  gql(RUNS)
    .then((data) => {
      if (!alive) return;
      candidates = data.runs.edges.map((e) => e.node);
      renderPicker();
    })
    .catch((err) => showError(view, err));
  load();

  return () => {
    alive = false;
    clearTimeout(timer);
    for (const c of charts) c.destroy();
    bands.destroy();
  };
}

/** The page's controls, chart grid and fluctuation summary table, appended to `view`. */
function compareLayout(view, smoothing) {
  const axisSelect = h(
    "select",
    { name: "axis" },
    h("option", { value: "progress" }, "x: fraction of training"),
    h("option", { value: "step" }, "x: step"),
  );
  const extraSelect = h(
    "select",
    { name: "extra" },
    EXTRA.map(([v, label]) => h("option", { value: v }, label)),
  );
  const bandsToggle = h("input", { type: "checkbox", name: "bands" });
  const picker = h("div", { class: "picker" });
  const grid = h("div", { class: "charts three" });
  const summary = h("tbody");
  const summaryCard = h(
    "section",
    { class: "card" },
    h("h2", {}, "Fluctuation side by side"),
    h(
      "table",
      { class: "runs", id: "compare-summary" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, ""),
          h("th", {}, "Run"),
          h("th", {}, "Settings"),
          h("th", {}, "Status"),
          h("th", {}, "Mean loss"),
          h("th", { title: "std / mean of batch loss, window 10" }, "Loss CV"),
          h("th", {}, "Mean accuracy"),
          h("th", { title: "std / mean of batch accuracy, window 10" }, "Accuracy CV"),
        ),
      ),
      summary,
    ),
  );
  view.append(
    h(
      "section",
      { class: "card" },
      h(
        "div",
        { class: "row" },
        h("h1", {}, "Compare runs"),
        h("span", { class: "grow" }),
        axisSelect,
        h(
          "label",
          { title: "Group runs that differ only in their seed and draw mean ± std bands" },
          bandsToggle,
          " seed bands",
        ),
        smoothing.el,
      ),
      picker,
    ),
    grid,
    summaryCard,
  );

  return { axisSelect, extraSelect, bandsToggle, picker, grid, summary };
}

/** Loss, accuracy and a chosen extra metric, one faint raw and one smoothed line per run. */
function buildCharts(grid, runs, axis, extraSelect) {
  const charts = [];
  grid.replaceChildren();
  if (runs.length === 0) {
    grid.append(h("p", { class: "muted card" }, "Pick two or more runs above to overlay them."));
    return charts;
  }
  const lines = runs.flatMap((r, i) => {
    const color = COLORS[i % COLORS.length];
    const label = `#${r.databaseId} ${describeConfig(r.hyperparameters) || r.name}`;
    return [
      { label: `${label} (raw)`, color, faint: true },
      { label, color },
    ];
  });
  const xLabel = axis === "progress" ? "fraction of training" : "step";
  const mk = (key, title, yLabel, yRange) => {
    const c = chartCard(grid, title);
    const chart = new Chart(c.el, {
      readout: c.readout,
      xLabel,
      yLabel,
      yRange,
      series: lines,
      sync: "compare",
      legend: false,
    });
    window.__gradstream.charts[key] = chart;
    charts.push(chart);
    return chart;
  };
  mk("compareLoss", "Loss per batch", "loss");
  mk("compareAccuracy", "Accuracy per batch", "accuracy", [0, 1]);
  const extra = mk("compareExtra", "", "");
  const title = extra.el.closest(".card").querySelector("h3");
  title.replaceChildren(extraSelect);
  const items = runs.map((r, i) =>
    h(
      "span",
      { class: "legend-item" },
      h("i", { style: `background:${COLORS[i % COLORS.length]}` }),
      `#${r.databaseId} ${r.name} · ${describeConfig(r.hyperparameters)}`,
    ),
  );
  grid.prepend(h("div", { class: "legend" }, ...items));
  return charts;
}

/** Each chart's runs aligned on the chosen x (progress or step), raw and smoothed with weight `w`. */
function drawSeries(charts, series, w, x) {
  const table = (list) =>
    list.map((s) => {
      const ys = s.points.map((p) => p.mean);
      return [s.points.map((p) => p[x]), ys, debiasedEma(ys, w)];
    });
  const put = (chart, list) => {
    if (!chart || !list.length) return;
    const joined = alignTables(table(list));
    chart.setData(joined[0], joined.slice(1));
  };
  put(charts[0], series.LOSS);
  put(charts[1], series.ACCURACY);
  put(charts[2], series.EXTRA);
}

/** One summary row per run: its overall loss and accuracy, mean and CV (window 10). */
function summaryRows(runs) {
  return Promise.all(
    runs.map(async (r, i) => {
      const data = await gql(FLUC, { id: r.id });
      const o = data.run.fluctuation.overall;
      return h(
        "tr",
        { dataset: { runId: r.id } },
        h("td", {}, h("i", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` })),
        h("td", {}, h("a", { href: `#/runs/${r.databaseId}` }, `#${r.databaseId} ${r.name}`)),
        h("td", { class: "muted" }, describeConfig(r.hyperparameters)),
        h("td", {}, statusBadge(r.status)),
        h("td", { class: "num" }, num(o.loss.mean, 4)),
        h("td", { class: "num" }, num(o.loss.cv, 3)),
        h("td", { class: "num" }, num(o.accuracy.mean, 3)),
        h("td", { class: "num" }, num(o.accuracy.cv, 3)),
      );
    }),
  );
}
