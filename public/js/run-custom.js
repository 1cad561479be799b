// An EXTERNAL run's custom metrics (logged by name): pick one, see its downsampled mean per step.
import { Chart, COLORS, chartCard } from "./charts.js";
import { h, showError } from "./dom.js";
import { gql } from "./gql.js";
import { ACTIVE } from "./run-header.js";

const CUSTOM = `query Custom($id: ID!, $name: String!) {
  run(id: $id) { ... on Run { history(metrics: [], custom: [$name], maxPoints: 1000) { buckets { lastStep custom { mean } } } } }
}`;

/**
 * `page`: { id, view, run, alive } of the run page. Refreshed every 2 s while the run is active, since
 * custom names arrive with the rows. Returns its disposer.
 */
export function customPanel(page) {
  const { id, view } = page;
  const select = h(
    "select",
    { name: "customMetric", title: "Custom metric" },
    page.run.customMetrics.map((n) => h("option", { value: n }, n)),
  );
  const grid = h("div", { class: "charts" });
  view.append(
    h("div", { class: "row section" }, h("h2", {}, "Custom metrics"), h("span", { class: "grow" }), select),
    grid,
  );
  const c = chartCard(
    grid,
    "Custom metric per batch",
    "A metric the trainer logged by name (mean per point)",
  );
  const chart = new Chart(c.el, {
    readout: c.readout,
    yLabel: "value",
    series: [{ label: "mean", color: COLORS[1] }],
  });
  window.__gradstream.charts.custom = chart;
  const load = async () => {
    const { run: r } = await gql(CUSTOM, { id, name: select.value });
    if (!page.alive) return;
    const b = r.history.buckets.filter((x) => x.custom.length);
    chart.setData(
      b.map((x) => x.lastStep),
      [b.map((x) => x.custom[0].mean)],
    );
    chart.el.dataset.points = String(b.length);
  };
  const reload = () => load().catch((err) => showError(view, err));
  select.addEventListener("change", reload);
  reload();
  const timer = setInterval(() => {
    if (ACTIVE.includes(page.run.status)) reload();
  }, 2_000);
  return () => {
    clearInterval(timer);
    chart.destroy();
  };
}
