// One run: header with status, progress and actions; live per-batch loss and accuracy (smoothed over
// a faint raw line); validation per epoch; the fluctuation panel that explains why loss jumps around
// while accuracy holds (rolling CV of both, mean confidence, gradient norm).
// The page's pieces live in run-layout.js (layout, charts, epochs), run-header.js and
// run-fluctuation.js; this file holds its state, the zoom and the batch stream.
import { h, showError } from "./dom.js";
import { gql, streamBatches, subscribe } from "./gql.js";
import { noisePanel } from "./noise-panel.js";
import { customPanel } from "./run-custom.js";
import { fluctuationPanel } from "./run-fluctuation.js";
import { drawHeader, drawProgress } from "./run-header.js";
import { drawEpochs, runCharts, runLayout } from "./run-layout.js";
import { systemPanel } from "./run-system.js";
import { validationPanel } from "./run-validation.js";
import { OVERVIEW_POINTS, SeriesStore } from "./series.js";
import { debiasedEma } from "./smooth.js";

const EPOCH = "epoch trainLoss trainAccuracy valLoss valAccuracy batches timeMs";
const RUN = `query Run($id: ID!) {
  run(id: $id) {
    __typename
    ... on Run {
      id databaseId name kind customMetrics status totalSteps stepsCompleted stepsPerChunk lastStep errorMessage failedAtStep
      providerRequested providerUsed threads createdAt startedAt finishedAt tags hyperparameters bestValAccuracy
      model { id name parameterCount } dataset { id name kind trainSize valSize classes }
      progress { step totalSteps epoch fraction samplesPerSecond etaSeconds }
      epochs(first: 10000) { nodes { ${EPOCH} } }
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
const EVENTS = `subscription Events($id: ID!) {
  runEvents(runId: $id) {
    __typename
    ... on RunStatusEvent { status error }
    ... on RunEpochEvent { epoch { ${EPOCH} } }
    ... on RunValidationEvent { validation { step loss accuracy } }
  }
}`;

/** The run as the page keeps it: its epochs as a plain list (the API pages them). */
const flat = (run) => run && { ...run, epochs: run.epochs.nodes };

export function runPage(view, id) {
  const disposers = [];
  let alive = true;
  const cleanup = () => {
    alive = false;
    for (const d of disposers.splice(0)) d();
  };
  gql(RUN, { id })
    .then((data) => {
      const run = flat(data.run);
      if (!alive) return;
      if (!run) {
        view.append(
          h("div", { class: "card" }, h("h2", {}, "Run not found"), h("p", {}, "No run has this number.")),
        );
        return;
      }
      disposers.push(mount(view, run));
    })
    .catch((err) => showError(view, err));
  return cleanup;
}

/** A run page's state, shared by its pieces (header, charts, fluctuation panel, stream). */
function mount(view, initial) {
  const disposers = [];
  const page = {
    id: initial.id,
    view,
    run: initial,
    store: new SeriesStore(initial.totalSteps),
    final: false,
    alive: true,
    zoomed: null,
  };
  // Steps persisted so far: the stream's cursor, or the run's own count before the stream delivers
  // (a long run starts from its history, and a finished one may stream nothing new).
  page.doneSteps = () => Math.max(page.store.lastStep, page.run.lastStep ?? -1) + 1;
  const redraw = redrawer(page);
  const els = runLayout(view, () => redraw.now());
  page.els = els;
  page.charts = runCharts(els, page.id, (min, max) => zoom(page, min, max), disposers);
  page.redraw = redraw;
  page.refreshFluctuation = fluctuationPanel(
    { id: page.id, alive: () => page.alive, lastStep: () => page.doneSteps() - 1, zoomed: () => page.zoomed },
    els,
    page.charts.cv,
  );
  disposers.push(noisePanel(page));
  page.validation = validationPanel(page, els.epochsGrid, disposers);
  if (initial.customMetrics.length) disposers.push(customPanel(page));
  if (initial.kind === "TRAINED") disposers.push(systemPanel(page));
  page.header = {
    id: page.id,
    view,
    get run() {
      return page.run;
    },
    doneSteps: page.doneSteps,
    hasSteps: () => page.store.lastStep >= 0 || page.run.stepsCompleted > 0,
    afterAction: (kind) => afterAction(page, kind),
  };
  page.refreshRun = async () => {
    const data = await gql(RUN, { id: page.id });
    if (!page.alive || !data.run) return;
    page.run = flat(data.run);
    drawHeader(els.header, page.header);
    drawEpochs(els, page.charts, page.run.epochs);
  };
  disposers.push(
    subscribe(EVENTS, () => ({ id: page.id }), { next: (data) => onRunEvent(page, data.runEvents) }),
  );
  window.__gradstream.run = { id: page.id, store: page.store, isFinal: () => page.final };
  window.__gradstream.final = false;
  drawHeader(els.header, page.header);
  drawEpochs(els, page.charts, page.run.epochs);
  page.refreshFluctuation();
  page.stream = streamer(page, disposers);
  if (page.store.mode === "raw") page.stream.start(-1);
  else
    page.stream.loadOverview().then((last) => {
      if (!page.alive) return;
      redraw.now();
      page.stream.start(last);
    });
  return () => {
    page.alive = false;
    // The hook describes the page on screen: a later page must not find this run's final flag.
    window.__gradstream.final = false;
    for (const d of disposers.splice(0)) d();
  };
}

/** Draws the step charts from the store, at most once a frame. */
function redrawer(page) {
  let queued = false;
  const now = () => {
    queued = false;
    if (!page.alive) return;
    const cols = page.store.compose();
    const w = page.els.smoothing.value;
    const drawPair = (chart, ys) => chart.setData(cols.x, [ys, debiasedEma(ys, w)]);
    drawPair(page.charts.loss, cols.loss);
    drawPair(page.charts.accuracy, cols.accuracy);
    drawPair(page.charts.confidence, cols.confidence);
    drawPair(page.charts.gradNorm, cols.gradNorm);
  };
  const queue = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(now);
  };
  return { now, queue };
}

/** Zooms every step chart; a downsampled run fetches the zoomed range's detail. */
async function zoom(page, min, max) {
  page.zoomed = min === null ? null : [Math.max(0, Math.floor(min)), Math.ceil(max)];
  for (const c of page.charts.steps) c.zoomTo(min, max);
  page.refreshFluctuation();
  if (page.store.mode !== "sampled") return;
  if (!page.zoomed) {
    page.store.setDetail(0, 0, null);
    page.redraw.now();
    for (const c of page.charts.steps) c.zoomTo(null);
    return;
  }
  const [from, to] = page.zoomed;
  const data = await gql(HISTORY, { id: page.id, from, to, n: OVERVIEW_POINTS });
  if (!page.alive || page.zoomed?.[0] !== from || page.zoomed?.[1] !== to) return; // left, or a newer zoom won
  page.store.setDetail(from, to, data.run.history.buckets);
  page.redraw.now();
}

async function afterAction(page, kind) {
  if (kind === "delete") {
    location.hash = "#/";
    return;
  }
  // A resumed run continues its step numbering: stream on from the last step we hold.
  if (kind === "resume" && page.final) {
    page.final = false;
    window.__gradstream.final = false;
    page.stream.start(page.store.lastStep);
  }
  await page.refreshRun();
}

function onRunEvent(page, e) {
  if (e.__typename === "RunEpochEvent") {
    page.run.epochs = [...page.run.epochs.filter((x) => x.epoch !== e.epoch.epoch), e.epoch];
    drawEpochs(page.els, page.charts, page.run.epochs);
  } else if (e.__typename === "RunValidationEvent") {
    page.validation.add(e.validation);
  } else if (e.__typename === "RunStatusEvent") {
    page.run.status = e.status;
    if (e.error) page.run.errorMessage = e.error;
    page.refreshRun().catch(() => {});
  }
}

/** The batch stream: rows into the store, the overview re-fetched when the tail grows, progress. */
function streamer(page, disposers) {
  const { id, store, els } = page;
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
        page.redraw.queue();
        return compact();
      },
      () => {
        // A failed fetch is retried by the next chunk, not in a loop.
        compacting = null;
      },
    );
    return compacting;
  }
  // The header's step count follows the stream; the rest of the header is refreshed at most 1/s.
  let lastTick = 0;
  function progressTick() {
    const now = performance.now();
    drawProgress(els.header, page.doneSteps(), page.run.totalSteps);
    if (now - lastTick > (store.mode === "raw" ? 1000 : 5000)) {
      lastTick = now;
      page.refreshRun().catch(() => {});
      page.refreshFluctuation();
    }
  }
  const start = (afterStep) => {
    store.streamFrom ??= afterStep;
    disposers.push(
      streamBatches(id, afterStep, {
        onState: (s) => {
          els.streamState.textContent = s === "live" ? (page.final ? "" : "● live") : s;
          els.streamState.className = `muted stream-state ${s === "live" ? "live" : "retry"}`;
        },
        onRows: (rows) => {
          store.append(rows);
          compact();
          page.redraw.queue();
          progressTick();
        },
        onFinal: async () => {
          page.final = true;
          els.streamState.textContent = "";
          // The run is complete once the chart holds its final shape (tail folded into the overview).
          await compact();
          window.__gradstream.final = true;
          page.validation?.reload();
          page.refreshRun().then(page.refreshFluctuation);
          page.redraw.queue();
        },
      }),
    );
  };
  return { start, loadOverview };
}
