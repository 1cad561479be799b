// A run page's header: name, status, the actions its status allows, the facts of its configuration,
// and the progress bar (whose step count the stream updates between header refreshes).
import { downloadModel, runAction } from "./actions.js";
import { describeConfig, duration, h, num, showError, statusBadge } from "./dom.js";

export const ACTIVE = ["QUEUED", "RUNNING"];

/** `page`: { id, view, run, doneSteps(), hasSteps(), afterAction(kind) } of the run page. */
function actions(page) {
  const { id, run, view } = page;
  const act = (label, kind, cls = "") =>
    h(
      "button",
      {
        class: cls,
        dataset: { action: kind },
        onclick: async () => {
          if (
            kind === "delete" &&
            !confirm(`Delete run #${run.databaseId} with its metrics and checkpoints?`)
          )
            return;
          try {
            await runAction(kind, id);
            await page.afterAction(kind);
          } catch (err) {
            showError(view, err);
          }
        },
      },
      label,
    );
  const out = [];
  if (ACTIVE.includes(run.status)) out.push(act("Cancel", "cancel"));
  // An EXTERNAL run goes on when its trainer logs again, and has no model here to download.
  const external = run.kind === "EXTERNAL";
  if (!external && ["INTERRUPTED", "CANCELLED", "FAILED"].includes(run.status))
    out.push(act("Resume", "resume"));
  if (!external && page.hasSteps()) {
    out.push(
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
  out.push(h("a", { class: "button", href: `#/compare?ids=${run.databaseId}` }, "Compare…"));
  out.push(act("Delete", "delete", "danger"));
  return out;
}

function facts(run) {
  const p = run.progress;
  const source =
    run.kind === "EXTERNAL"
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
  return [
    ...source,
    ["Settings", describeConfig(run.hyperparameters)],
    ["Provider", providerText(run)],
    ["Speed", p.samplesPerSecond ? `${Math.round(p.samplesPerSecond).toLocaleString()} samples/s` : "–"],
    ["ETA", ACTIVE.includes(run.status) ? duration(p.etaSeconds) : "–"],
    ["Best val. acc.", run.bestValAccuracy === null ? "–" : num(run.bestValAccuracy, 3)],
  ];
}

/** "CPU · 2 threads": the provider and the onnxruntime thread count the run trained on, when known. */
function providerText(run) {
  const provider = run.providerUsed ?? run.providerRequested ?? "–";
  if (!run.threads) return provider;
  return `${provider} · ${run.threads} thread${run.threads === 1 ? "" : "s"}`;
}

export function drawHeader(header, page) {
  const run = page.run;
  const done = page.doneSteps();
  const frac = run.totalSteps ? Math.min(1, done / run.totalSteps) : 0;
  const parts = [
    h(
      "div",
      { class: "row" },
      h("h1", {}, `#${run.databaseId} ${run.name}`),
      statusBadge(run.status),
      h("span", { class: "grow" }),
      ...actions(page),
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
      ...facts(run).map(([k, v, title]) => h("div", { title }, h("dt", {}, k), h("dd", {}, v))),
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

/** The step count and bar only: cheap enough for every chunk. */
export function drawProgress(header, done, totalSteps) {
  const count = header.querySelector("#step-count");
  if (count) count.textContent = `${done.toLocaleString()} / ${totalSteps.toLocaleString()} steps`;
  const bar = header.querySelector(".progress .bar span");
  if (bar) bar.style.width = `${Math.min(100, (done / totalSteps) * 100).toFixed(1)}%`;
}
