// The fluctuation panel: rolling CV of loss and accuracy, with overall statistics and a plain-words
// explanation of why the loss jumps around while accuracy holds.
import { h, num } from "./dom.js";
import { gql } from "./gql.js";

const FLUCTUATION = `query Fluctuation($id: ID!, $window: Int!, $from: Int, $to: Int) {
  run(id: $id) {
    ... on Run {
      fluctuation(window: $window, maxPoints: 500, fromStep: $from, toStep: $to) {
        window
        overall { batches correlation loss { mean std cv } accuracy { mean std cv } }
        points { step loss { cv } accuracy { cv } }
      }
    }
  }
}`;

// The server computes rolling statistics from raw rows (at most 200,000 per request): a long run's
// panel covers the zoomed range or the latest FLUC_SPAN steps.
const FLUC_SPAN = 50_000;

const stat = (label, value, hint) =>
  h("div", { class: "stat", title: hint }, h("span", { class: "muted" }, label), h("strong", {}, value));

function statsOf(o, span, zoomed) {
  const ratio = o.loss.cv !== null && o.accuracy.cv ? o.loss.cv / o.accuracy.cv : null;
  return [
    stat("Batches", o.batches.toLocaleString()),
    stat("Loss CV", num(o.loss.cv, 3), "std / mean of the per-batch loss over the whole run"),
    stat("Accuracy CV", num(o.accuracy.cv, 3), "std / mean of the per-batch accuracy"),
    stat("Loss ÷ accuracy CV", ratio === null ? "–" : `${ratio.toFixed(1)}×`),
    stat("Correlation", num(o.correlation, 2), "Pearson correlation of batch loss and batch accuracy"),
    h("p", { class: "explain" }, explain(o, ratio)),
    span
      ? h(
          "p",
          { class: "muted span-note" },
          `Steps ${span[0].toLocaleString()}–${span[1].toLocaleString()}${zoomed ? " (the zoomed range)" : ` (the latest ${FLUC_SPAN.toLocaleString()}; zoom to pick a range)`}.`,
        )
      : null,
  ].filter(Boolean);
}

/**
 * `page`: { id, alive(), lastStep(), zoomed() } of the run page. Returns refresh(): one request at a
 * time; a refresh asked for meanwhile (a zoom) runs right after.
 */
export function fluctuationPanel(page, els, cvChart) {
  let inFlight = false;
  let again = false;
  async function refresh() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    again = false;
    try {
      const last = page.lastStep();
      const zoomed = page.zoomed();
      let span = null;
      if (zoomed) span = [zoomed[0], Math.min(zoomed[1], zoomed[0] + FLUC_SPAN - 1)];
      else if (last + 1 > FLUC_SPAN) span = [last - FLUC_SPAN + 1, last];
      const size = Number(els.windowSelect.value);
      const vars = { id: page.id, window: size, from: span?.[0] ?? null, to: span?.[1] ?? null };
      const data = await gql(FLUCTUATION, vars);
      if (!page.alive()) return;
      const f = data.run.fluctuation;
      cvChart.setData(
        f.points.map((p) => p.step),
        [f.points.map((p) => p.loss.cv), f.points.map((p) => p.accuracy.cv)],
      );
      if (zoomed) cvChart.zoomTo(zoomed[0], zoomed[1]);
      els.flucStats.replaceChildren(...statsOf(f.overall, span, zoomed !== null));
    } catch (err) {
      if (err instanceof Error) els.flucStats.replaceChildren(h("p", { class: "muted" }, err.message));
    } finally {
      inFlight = false;
      if (again) refresh();
    }
  }
  els.windowSelect.addEventListener("change", refresh);
  return refresh;
}

function explain(o, ratio) {
  if (!o.batches) return "Waiting for the first batches…";
  if (ratio === null) return "Accuracy is constant so far: every batch scores the same.";
  const parts = [];
  if (ratio >= 1) {
    parts.push(
      `Per-batch loss varies ${ratio.toFixed(1)}× as much as accuracy, relative to their means.`,
      "Cross-entropy measures confidence while accuracy only counts right and wrong: the loss swings with the model's certainty on each small batch while its answers mostly stay the same.",
    );
  } else {
    parts.push(
      `Accuracy varies ${(1 / ratio).toFixed(1)}× as much as loss here, relative to their means.`,
      "A small batch can only score a few accuracies (0, 1/b, 2/b, …), so accuracy jumps in coarse steps while the loss, a smooth measure of confidence, moves less.",
    );
  }
  if (o.correlation !== null && o.correlation < -0.5) {
    parts.push("Loss and accuracy move against each other, as they should.");
  } else if (o.correlation !== null && Math.abs(o.correlation) < 0.2) {
    parts.push("Loss and accuracy barely move together: the loss is tracking confidence, not correctness.");
  }
  return parts.join(" ");
}
