// A run page's evaluations by step: every `validation.everySteps` steps and each epoch end, drawn
// against the step like the per-epoch chart draws them against the epoch. Loaded from
// Run.validationMetrics, then extended live by the RunValidationEvent of runEvents.
import { Chart, COLORS, chartCard } from "./charts.js";
import { h } from "./dom.js";
import { gql } from "./gql.js";

const VALIDATIONS = `query Validations($id: ID!) {
  run(id: $id) { ... on Run { validationMetrics { step loss accuracy } } }
}`;

/** Appends the chart after `after`; returns { add(v) } for live evaluations. */
export function validationPanel(page, after, disposers) {
  const grid = h("div", { class: "charts" });
  after.after(h("h2", { class: "section" }, "Validation by step"), grid);
  const card = chartCard(grid, "Validation by step", "Held-out loss and accuracy at each evaluation");
  const chart = new Chart(card.el, {
    readout: card.readout,
    xLabel: "step",
    yLabel: "loss / accuracy",
    series: [
      { label: "validation loss", color: COLORS[1] },
      { label: "validation accuracy", color: COLORS[3], dash: [6, 4] },
    ],
  });
  window.__gradstream.charts.validationSteps = chart;
  disposers.push(() => chart.destroy());
  const byStep = new Map();
  const draw = () => {
    const rows = [...byStep.values()].sort((a, b) => a.step - b.step);
    chart.setData(
      rows.map((r) => r.step),
      [rows.map((r) => r.loss), rows.map((r) => r.accuracy)],
    );
  };
  // The query and the live events are separate requests: an evaluation stored after the query read
  // but published before the subscription was active reaches neither, so the run's end loads again.
  const load = () =>
    gql(VALIDATIONS, { id: page.id })
      .then((data) => {
        if (!page.alive) return;
        for (const v of data.run?.validationMetrics ?? []) if (!byStep.has(v.step)) byStep.set(v.step, v);
        draw();
      })
      .catch(() => {});
  load();
  return {
    add(v) {
      byStep.set(v.step, v);
      draw();
    },
    reload: load,
  };
}
