// Seed groups on the compare page: the picked runs grouped by setting (runs that differ only in their
// seed), each group drawn as a shaded band (mean ± std across its runs) around its smoothed mean line.
import { alignTables, Chart, COLORS, chartCard } from "./charts.js";
import { describeConfig, h } from "./dom.js";
import { gql } from "./gql.js";

const GROUPS = `query Bands($ids: [ID!]!, $metric: Metric!, $w: Float!) {
  compareRuns(ids: $ids, metric: $metric, maxPoints: 1000, groupBy: SEED, smoothing: $w) {
    group { key setting runs { id } points { step progress runs mean std smoothed } }
  }
}`;

/** The bands section (hidden until `load` is called with groups to show); returns its controller. */
export function bandsSection(parent) {
  const grid = h("div", { class: "charts", id: "compare-bands" });
  const card = h(
    "div",
    { class: "section", hidden: true },
    h("h2", {}, "Seed groups: mean ± std across seeds"),
    grid,
  );
  parent.append(card);
  let charts = [];
  return {
    hide() {
      card.hidden = true;
    },
    async load(ids, w, axis) {
      const [loss, acc] = await Promise.all(
        ["LOSS", "ACCURACY"].map(async (metric) =>
          unique((await gql(GROUPS, { ids, metric, w })).compareRuns),
        ),
      );
      for (const c of charts) c.destroy();
      grid.replaceChildren();
      card.hidden = false;
      charts = [
        bandChart(grid, "bandsLoss", "Loss per batch", loss, axis),
        bandChart(grid, "bandsAccuracy", "Accuracy per batch", acc, axis),
      ];
      grid.dataset.groups = String(loss.length);
    },
    destroy() {
      for (const c of charts) c.destroy();
    },
  };
}

/** One group per key, in first-seen order. */
function unique(series) {
  const seen = new Map();
  for (const s of series) if (s.group && !seen.has(s.group.key)) seen.set(s.group.key, s.group);
  return [...seen.values()];
}

/** A chart of the groups: per group, upper and lower edges (faint, shaded between) and the mean line. */
function bandChart(grid, key, title, groups, axis) {
  const c = chartCard(grid, title, "Shaded: mean ± one standard deviation across the group's runs");
  const series = groups.flatMap((g, i) => {
    const color = COLORS[i % COLORS.length];
    const label = `${describeConfig(g.setting) || g.key} (${g.runs.length} runs)`;
    return [
      { label: `${label} +std`, color, faint: true },
      { label: `${label} −std`, color, faint: true },
      { label, color },
    ];
  });
  const bands = groups.map((_g, i) => [3 * i, 3 * i + 1, COLORS[i % COLORS.length]]);
  const x = axis === "progress" ? "progress" : "step";
  const chart = new Chart(c.el, {
    readout: c.readout,
    xLabel: axis === "progress" ? "fraction of training" : "step",
    series,
    bands,
  });
  const tables = groups.map((g) => [
    g.points.map((p) => p[x]),
    g.points.map((p) => p.mean + p.std),
    g.points.map((p) => p.mean - p.std),
    g.points.map((p) => p.smoothed),
  ]);
  const joined = alignTables(tables);
  chart.setData(joined[0], joined.slice(1));
  window.__gradstream.charts[key] = chart;
  return chart;
}
