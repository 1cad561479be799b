// One run: header with status, progress and actions; live per-batch loss and accuracy (smoothed over
// a faint raw line); validation per epoch; the fluctuation panel that explains why loss jumps around
// while accuracy holds (rolling CV of both, mean confidence, gradient norm).
import { downloadModel, runAction } from "./actions.js";
import { Chart, COLORS, chartCard } from "./charts.js";
import { describeConfig, duration, h, num, showError, statusBadge } from "./dom.js";
import { gql, streamBatches, subscribe } from "./gql.js";
import { OVERVIEW_POINTS, SeriesStore } from "./series.js";
import { debiasedEma } from "./smooth.js";
import { smoothingControl } from "./smoothing.js";

const EPOCH = "epoch trainLoss trainAccuracy valLoss valAccuracy batches timeMs";
const RUN = `query Run($id: ID!) {
  run(id: $id) {
    __typename
    ... on NotFoundError { message }
    ... on Run {
      id name kind customMetrics status totalSteps stepsCompleted stepsPerChunk lastStep errorMessage failedAtStep
      providerRequested providerUsed createdAt startedAt finishedAt tags hyperparameters bestValAccuracy
      model { id name parameterCount } dataset { id name kind trainSize valSize classes }
      progress { step totalSteps epoch fraction samplesPerSecond etaSeconds }
      epochs { ${EPOCH} }
    }
  }
}`;
const HISTORY = `query History($id: ID!, $from: Int, $to: Int, $n: Int!) {
  run(id: $id) {
    ... on Run {
      history(fromStep: $from, toStep: $to, maxPoints: $n, metrics: [LOSS, ACCURACY, CONFIDENCE, GRAD_NORM]) {
        bucketWidth
        buckets { firstStep lastStep loss { mean } accuracy { mean } confidence { mean } gradNorm { mean } }
        last { step }
      }
    }
  }
}`;
const CUSTOM = `query Custom($id: ID!, $name: String!) {
  run(id: $id) { ... on Run { history(metrics: [], custom: [$name], maxPoints: 1000) { buckets { lastStep custom { mean } } } } }
}`;
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
const EVENTS = `subscription Events($id: ID!) {
  runEvents(runId: $id) {
    __typename
    ... on RunStatusEvent { status error }
    ... on RunEpochEvent { epoch { ${EPOCH} } }
  }
}`;

const ACTIVE = ["QUEUED", "RUNNING"];
// The server computes rolling statistics from raw rows (at most 200,000 per request): a long run's
// panel covers the zoomed range or the latest FLUC_SPAN steps.
const FLUC_SPAN = 50_000;

export function runPage(view, id) {
  const disposers = [];
  let alive = true;
  const cleanup = () => {
    alive = false;
    for (const d of disposers.splice(0)) d();
  };
  gql(RUN, { id })
    .then(({ run }) => {
      if (!alive) return;
      if (run.__typename !== "Run") {
        view.append(h("div", { class: "card" }, h("h2", {}, "Run not found"), h("p", {}, run.message)));
        return;
      }
      disposers.push(mount(view, run));
    })
    .catch((err) => showError(view, err));
  return cleanup;
}

/**
 * The custom metrics an EXTERNAL run logged by name: pick one, see its downsampled mean per step.
 * Refreshed every 2 s while the run is active. Returns its disposer.
 */
function customPanel(view, run, mk, isAlive) {
  const select = h(
    "select",
    { name: "customMetric", title: "Custom metric" },
    run.customMetrics.map((n) => h("option", { value: n }, n)),
  );
  const grid = h("div", { class: "charts" });
  view.append(
    h("div", { class: "row section" }, h("h2", {}, "Custom metrics"), h("span", { class: "grow" }), select),
    grid,
  );
  const chart = mk(
    grid,
    "custom",
    "Custom metric per batch",
    "A metric the trainer logged by name (mean per point)",
    {
      yLabel: "value",
      series: [{ label: "mean", color: COLORS[1] }],
    },
  );
  const load = async () => {
    const { run: r } = await gql(CUSTOM, { id: run.id, name: select.value });
    if (!isAlive()) return;
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
    if (ACTIVE.includes(run.status)) reload();
  }, 2_000);
  return () => clearInterval(timer);
}

function mount(view, initial) {
  let run = initial;
  const id = run.id;
  const disposers = [];
  const store = new SeriesStore(run.totalSteps);
  let final = false;
  let redrawQueued = false;
  // Replies that land after the user left the page must not touch its destroyed charts.
  let alive = true;

  // Steps persisted so far: the stream's cursor, or the run's own count before the stream delivers
  // (a long run starts from its history, and a finished one may stream nothing new).
  const doneSteps = () => Math.max(store.lastStep, run.lastStep ?? -1) + 1;

  // ── Layout ──────────────────────────────────────────────────────────────────────────────────────
  const header = h("section", { class: "card run-head" });
  const smoothing = smoothingControl(() => redraw());
  const streamState = h("span", { class: "muted stream-state" });
  const toolbar = h(
    "div",
    { class: "toolbar" },
    smoothing.el,
    h("span", { class: "muted hint" }, "Drag across a chart to zoom, double-click to reset."),
    h("span", { class: "grow" }),
    streamState,
  );
  const grid = h("div", { class: "charts" });
  const epochsGrid = h("div", { class: "charts" });
  const flucStats = h("div", { class: "stats" });
  const windowSelect = h(
    "select",
    { name: "window", title: "Rolling window in batches" },
    [10, 20, 50, 100].map((w) => h("option", { value: String(w), selected: w === 20 }, `window ${w}`)),
  );
  const flucGrid = h("div", { class: "charts three" });
  view.append(
    header,
    toolbar,
    grid,
    h("h2", { class: "section" }, "Validation per epoch"),
    epochsGrid,
    h(
      "div",
      { class: "row section" },
      h("h2", {}, "Fluctuation: why loss jumps while accuracy holds"),
      h("span", { class: "grow" }),
      windowSelect,
    ),
    h("section", { class: "card" }, flucStats),
    flucGrid,
  );

  // ── Charts ─────────────────────────────────────────────────────────────────────────────────────
  const stepCharts = [];
  const onZoom = (min, max) => zoom(min, max);
  const mk = (parent, key, title, hint, opts) => {
    const c = chartCard(parent, title, hint);
    const chart = new Chart(c.el, { readout: c.readout, ...opts });
    window.__gradstream.charts[key] = chart;
    disposers.push(() => chart.destroy());
    return chart;
  };
  const pair = (label, color) => [
    { label: `${label} (raw)`, color, faint: true },
    { label, color },
  ];
  const lossChart = mk(grid, "loss", "Loss per batch", "Cross-entropy of each mini-batch", {
    yLabel: "loss",
    series: pair("loss", COLORS[0]),
    sync: `run${id}`,
    onZoom,
  });
  const accChart = mk(
    grid,
    "accuracy",
    "Accuracy per batch",
    "Fraction of each mini-batch classified right",
    {
      yLabel: "accuracy",
      series: pair("accuracy", COLORS[2]),
      yRange: [0, 1],
      sync: `run${id}`,
      onZoom,
    },
  );
  stepCharts.push(lossChart, accChart);
  if (run.customMetrics.length) disposers.push(customPanel(grid.parentElement ?? view, run, mk, () => alive));
  const epochLoss = mk(epochsGrid, "epochLoss", "Loss per epoch", "Mean training loss vs validation loss", {
    xLabel: "epoch",
    yLabel: "loss",
    series: [
      { label: "train", color: COLORS[0] },
      { label: "validation", color: COLORS[1], dash: [6, 4] },
    ],
  });
  const epochAcc = mk(epochsGrid, "epochAccuracy", "Accuracy per epoch", "Training vs validation accuracy", {
    xLabel: "epoch",
    yLabel: "accuracy",
    yRange: [0, 1],
    series: [
      { label: "train", color: COLORS[2] },
      { label: "validation", color: COLORS[3], dash: [6, 4] },
    ],
  });
  const cvChart = mk(
    flucGrid,
    "cv",
    "Rolling CV",
    "std / |mean| of loss and of accuracy over the rolling window",
    {
      yLabel: "CV",
      series: [
        { label: "loss CV", color: COLORS[0] },
        { label: "accuracy CV", color: COLORS[2] },
      ],
      sync: `run${id}`,
      onZoom,
    },
  );
  const confChart = mk(flucGrid, "confidence", "Mean confidence", "Mean max softmax probability per batch", {
    yLabel: "confidence",
    series: pair("confidence", COLORS[4]),
    sync: `run${id}`,
    onZoom,
  });
  const gradChart = mk(flucGrid, "gradNorm", "Gradient norm", "L2 norm of the gradient over all parameters", {
    yLabel: "‖g‖",
    series: pair("grad norm", COLORS[3]),
    sync: `run${id}`,
    onZoom,
  });
  stepCharts.push(cvChart, confChart, gradChart);

  // ── Drawing ────────────────────────────────────────────────────────────────────────────────────
  function redraw() {
    redrawQueued = false;
    if (!alive) return;
    const cols = store.compose();
    const w = smoothing.value;
    const drawPair = (chart, ys) => chart.setData(cols.x, [ys, debiasedEma(ys, w)]);
    drawPair(lossChart, cols.loss);
    drawPair(accChart, cols.accuracy);
    drawPair(confChart, cols.confidence);
    drawPair(gradChart, cols.gradNorm);
  }
  const queueRedraw = () => {
    if (redrawQueued) return;
    redrawQueued = true;
    requestAnimationFrame(redraw);
  };

  let zoomed = null;
  async function zoom(min, max) {
    zoomed = min === null ? null : [Math.max(0, Math.floor(min)), Math.ceil(max)];
    for (const c of stepCharts) c.zoomTo(min, max);
    refreshFluctuation();
    if (store.mode !== "sampled") return;
    if (!zoomed) {
      store.setDetail(0, 0, null);
      redraw();
      for (const c of stepCharts) c.zoomTo(null);
      return;
    }
    const [from, to] = zoomed;
    const data = await gql(HISTORY, { id, from, to, n: OVERVIEW_POINTS });
    if (!alive || zoomed?.[0] !== from || zoomed?.[1] !== to) return; // left, or a newer zoom won
    store.setDetail(from, to, data.run.history.buckets);
    redraw();
  }

  function drawEpochs() {
    const e = [...run.epochs].sort((a, b) => a.epoch - b.epoch);
    const xs = e.map((r) => r.epoch + 1);
    epochLoss.setData(xs, [e.map((r) => r.trainLoss), e.map((r) => r.valLoss)]);
    epochAcc.setData(xs, [e.map((r) => r.trainAccuracy), e.map((r) => r.valAccuracy)]);
    const noVal = e.length > 0 && e.every((r) => r.valLoss === null);
    epochsGrid.classList.toggle("no-val", noVal || e.length === 0);
    epochsGrid.classList.toggle("empty", e.length === 0);
    epochsGrid.dataset.note =
      e.length === 0
        ? "No epoch has finished yet."
        : noVal
          ? "No validation split for this run: start one with a validation fraction to see the held-out curve."
          : "";
  }

  function drawHeader() {
    const p = run.progress;
    const done = doneSteps();
    const frac = run.totalSteps ? Math.min(1, done / run.totalSteps) : 0;
    const act = (label, kind, cls = "") =>
      h(
        "button",
        {
          class: cls,
          dataset: { action: kind },
          onclick: async () => {
            if (kind === "delete" && !confirm(`Delete run #${id} with its metrics and checkpoints?`)) return;
            try {
              await runAction(kind, id);
              if (kind === "delete") {
                location.hash = "#/";
                return;
              }
              // A resumed run continues its step numbering: stream on from the last step we hold.
              if (kind === "resume" && final) {
                final = false;
                window.__gradstream.final = false;
                startStream(store.lastStep);
              }
              await refreshRun();
            } catch (err) {
              showError(view, err);
            }
          },
        },
        label,
      );
    const actions = [];
    if (ACTIVE.includes(run.status)) actions.push(act("Cancel", "cancel"));
    const external = run.kind === "EXTERNAL";
    if (!external && ["INTERRUPTED", "CANCELLED", "FAILED"].includes(run.status))
      actions.push(act("Resume", "resume"));
    if (!external && (store.lastStep >= 0 || run.stepsCompleted > 0)) {
      actions.push(
        h(
          "button",
          {
            dataset: { action: "export" },
            title: "The forward model with the trained weights, as ONNX",
            onclick: () => downloadModel(id).catch((err) => showError(view, err)),
          },
          "Download model",
        ),
      );
    }
    actions.push(h("a", { class: "button", href: `#/compare?ids=${id}` }, "Compare…"));
    actions.push(act("Delete", "delete", "danger"));
    const source = external
      ? [["Source", "external trainer (logMetrics, gradstream log)"]]
      : [
          ["Model", `${run.model.name} (${run.model.parameterCount.toLocaleString()} params)`],
          // A dataset registered from a spec is named by the whole spec: show its kind and size.
          [
            "Data",
            `${run.dataset.kind} · ${run.dataset.trainSize.toLocaleString()} samples`,
            run.dataset.name,
          ],
        ];
    const facts = [
      ...source,
      ["Settings", describeConfig(run.hyperparameters)],
      ["Provider", run.providerUsed ?? run.providerRequested],
      ["Speed", p.samplesPerSecond ? `${Math.round(p.samplesPerSecond).toLocaleString()} samples/s` : "–"],
      ["ETA", ACTIVE.includes(run.status) ? duration(p.etaSeconds) : "–"],
      ["Best val. acc.", run.bestValAccuracy === null ? "–" : num(run.bestValAccuracy, 3)],
    ];
    const parts = [
      h(
        "div",
        { class: "row" },
        h("h1", {}, `#${run.id} ${run.name}`),
        statusBadge(run.status),
        h("span", { class: "grow" }),
        ...actions,
      ),
      run.errorMessage
        ? h(
            "p",
            { class: "form-error" },
            run.errorMessage,
            run.failedAtStep !== null ? ` (step ${run.failedAtStep})` : "",
          )
        : null,
      h(
        "dl",
        { class: "facts" },
        ...facts.map(([k, v, title]) => h("div", { title }, h("dt", {}, k), h("dd", {}, v))),
      ),
      h(
        "div",
        { class: "progress" },
        h("div", { class: "bar" }, h("span", { style: `width:${(frac * 100).toFixed(1)}%` })),
        h(
          "small",
          { class: "muted", id: "step-count" },
          `${done.toLocaleString()} / ${run.totalSteps.toLocaleString()} steps`,
        ),
      ),
    ];
    header.replaceChildren(...parts.filter(Boolean));
  }

  // ── Fluctuation ────────────────────────────────────────────────────────────────────────────────
  let flucInFlight = false;
  let flucAgain = false;
  async function refreshFluctuation() {
    // One request at a time; a refresh asked for meanwhile (a zoom) runs right after.
    if (flucInFlight) {
      flucAgain = true;
      return;
    }
    flucInFlight = true;
    flucAgain = false;
    try {
      const last = Math.max(store.lastStep, run.lastStep ?? -1);
      const isZoomed = zoomed !== null;
      let span = null;
      if (zoomed) span = [zoomed[0], Math.min(zoomed[1], zoomed[0] + FLUC_SPAN - 1)];
      else if (last + 1 > FLUC_SPAN) span = [last - FLUC_SPAN + 1, last];
      const data = await gql(FLUCTUATION, {
        id,
        window: Number(windowSelect.value),
        from: span?.[0] ?? null,
        to: span?.[1] ?? null,
      });
      if (!alive) return;
      const f = data.run.fluctuation;
      cvChart.setData(
        f.points.map((p) => p.step),
        [f.points.map((p) => p.loss.cv), f.points.map((p) => p.accuracy.cv)],
      );
      if (zoomed) cvChart.zoomTo(zoomed[0], zoomed[1]);
      const o = f.overall;
      const ratio = o.loss.cv !== null && o.accuracy.cv ? o.loss.cv / o.accuracy.cv : null;
      const stat = (label, value, hint) =>
        h(
          "div",
          { class: "stat", title: hint },
          h("span", { class: "muted" }, label),
          h("strong", {}, value),
        );
      const parts = [
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
              `Steps ${span[0].toLocaleString()}–${span[1].toLocaleString()}${isZoomed ? " (the zoomed range)" : ` (the latest ${FLUC_SPAN.toLocaleString()}; zoom to pick a range)`}.`,
            )
          : null,
      ];
      flucStats.replaceChildren(...parts.filter(Boolean));
    } catch (err) {
      if (err instanceof Error) flucStats.replaceChildren(h("p", { class: "muted" }, err.message));
    } finally {
      flucInFlight = false;
      if (flucAgain) refreshFluctuation();
    }
  }
  windowSelect.addEventListener("change", refreshFluctuation);

  // ── Data flow ──────────────────────────────────────────────────────────────────────────────────
  async function refreshRun() {
    const data = await gql(RUN, { id });
    if (!alive || data.run.__typename !== "Run") return;
    run = data.run;
    drawHeader();
    drawEpochs();
  }

  async function loadOverview() {
    const data = await gql(HISTORY, { id, from: null, to: null, n: OVERVIEW_POINTS });
    const hist = data.run.history;
    store.setOverview(hist.buckets, hist.last?.step ?? -1);
    return hist.last?.step ?? -1;
  }

  // One overview re-fetch at a time; rows that arrive while it is in flight can leave the tail over
  // its limit again, so each pass re-checks when it lands rather than waiting for the next chunk.
  let compacting = null;
  function compact() {
    if (compacting || !store.needsCompaction) return compacting ?? Promise.resolve();
    compacting = loadOverview().then(
      () => {
        compacting = null;
        queueRedraw();
        return compact();
      },
      () => {
        // A failed fetch is retried by the next chunk, not in a loop.
        compacting = null;
      },
    );
    return compacting;
  }

  function startStream(afterStep) {
    disposers.push(
      streamBatches(id, afterStep, {
        onState: (s) => {
          streamState.textContent = s === "live" ? (final ? "" : "● live") : s;
          streamState.className = `muted stream-state ${s === "live" ? "live" : "retry"}`;
        },
        onRows: (rows) => {
          store.append(rows);
          compact();
          queueRedraw();
          progressTick();
        },
        onFinal: async () => {
          final = true;
          streamState.textContent = "";
          // The run is complete once the chart holds its final shape (tail folded into the overview).
          await compact();
          window.__gradstream.final = true;
          refreshRun().then(refreshFluctuation);
          queueRedraw();
        },
      }),
    );
  }

  // The header's step count follows the stream; the rest of the header is refreshed at most 1/s.
  let lastTick = 0;
  function progressTick() {
    const now = performance.now();
    const done = doneSteps();
    const count = header.querySelector("#step-count");
    if (count) count.textContent = `${done.toLocaleString()} / ${run.totalSteps.toLocaleString()} steps`;
    const bar = header.querySelector(".progress .bar span");
    if (bar) bar.style.width = `${Math.min(100, (done / run.totalSteps) * 100).toFixed(1)}%`;
    if (now - lastTick > (store.mode === "raw" ? 1000 : 5000)) {
      lastTick = now;
      refreshRun().catch(() => {});
      refreshFluctuation();
    }
  }

  disposers.push(
    subscribe(EVENTS, () => ({ id }), {
      next: (data) => {
        const e = data.runEvents;
        if (e.__typename === "RunEpochEvent") {
          run.epochs = [...run.epochs.filter((x) => x.epoch !== e.epoch.epoch), e.epoch];
          drawEpochs();
        } else {
          run.status = e.status;
          if (e.error) run.errorMessage = e.error;
          refreshRun().catch(() => {});
        }
      },
    }),
  );

  window.__gradstream.run = { id, store, isFinal: () => final };
  window.__gradstream.final = false;
  drawHeader();
  drawEpochs();
  refreshFluctuation();
  if (store.mode === "raw") startStream(-1);
  else
    loadOverview().then((last) => {
      if (!alive) return;
      redraw();
      startStream(last);
    });

  return () => {
    alive = false;
    for (const d of disposers.splice(0)) d();
  };
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
