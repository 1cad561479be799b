// A trained run's system panel: what the machine did per chunk (CPU cores busy, resident memory,
// samples/s), measured in the trainer's process, against wall-clock seconds since the first chunk.
import { Chart, COLORS, chartCard } from "./charts.js";
import { h, showError } from "./dom.js";
import { gql } from "./gql.js";
import { ACTIVE } from "./run-header.js";

const SYSTEM = `query System($id: ID!, $from: Int!) {
  run(id: $id) { ... on Run { systemMetrics(fromStep: $from, first: 10000) { step startTime wallMs cpuUtilization rssBytes samplesPerSec } } }
}`;

/** `page`: { id, view, run, alive } of the run page. Refreshed every 2 s while the run is active. */
export function systemPanel(page) {
  const grid = h("div", { class: "charts three", id: "system-panel" });
  page.view.append(h("div", { class: "row section" }, h("h2", {}, "System: what the machine did")), grid);
  const mk = (key, title, hint, yLabel, color) => {
    const c = chartCard(grid, title, hint);
    const chart = new Chart(c.el, {
      readout: c.readout,
      xLabel: "wall s",
      yLabel,
      series: [{ label: yLabel, color }],
    });
    window.__gradstream.charts[key] = chart;
    return chart;
  };
  const charts = [
    mk(
      "systemCpu",
      "CPU cores busy",
      "CPU time of the trainer's process / wall time, per chunk",
      "cores",
      COLORS[0],
    ),
    mk("systemRss", "Resident memory", "RSS of the trainer's process at each chunk's end", "MiB", COLORS[1]),
    mk(
      "systemThroughput",
      "Samples per second",
      "Training samples per wall-clock second, per chunk",
      "samples/s",
      COLORS[2],
    ),
  ];
  // Polls ask only for the chunks after the last one held, so a long run costs one small query each.
  const rows = [];
  const load = async () => {
    const from = rows.length ? rows[rows.length - 1].step + 1 : 0;
    const { run } = await gql(SYSTEM, { id: page.id, from });
    if (!page.alive || run.systemMetrics.length === 0) return;
    rows.push(...run.systemMetrics);
    const t0 = rows.length ? Date.parse(rows[0].startTime) : 0;
    // x: seconds of wall clock at each chunk's end since the first chunk began.
    const xs = rows.map((r) => (Date.parse(r.startTime) + r.wallMs - t0) / 1000);
    charts[0].setData(xs, [rows.map((r) => r.cpuUtilization)]);
    charts[1].setData(xs, [rows.map((r) => r.rssBytes / 2 ** 20)]);
    charts[2].setData(xs, [rows.map((r) => r.samplesPerSec)]);
    grid.dataset.points = String(rows.length);
  };
  let busy = false; // one poll at a time, so no chunk is appended twice
  const reload = () => {
    if (busy) return;
    busy = true;
    load()
      .catch((err) => showError(page.view, err))
      .finally(() => {
        busy = false;
      });
  };
  reload();
  const timer = setInterval(() => {
    if (ACTIVE.includes(page.run.status)) reload();
  }, 2_000);
  return () => {
    clearInterval(timer);
    for (const c of charts) c.destroy();
  };
}
