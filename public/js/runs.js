// The runs page: reference experiments, a form to start a run, and the run list, kept live by the
// runsChanged subscription (progress of running runs is polled, since runsChanged only reports
// created / started / finished / deleted).

import { runAction } from "./actions.js";
import { describeConfig, h, showError, statusBadge } from "./dom.js";
import { authHeaders, gql, subscribe } from "./gql.js";

const RUN_ROW = `fragment RunRow on Run {
  id databaseId name kind status totalSteps stepsCompleted createdAt hyperparameters errorMessage
  model { name } dataset { name }
}`;

const HOME = `query Home {
  models { nodes { id name inputShape classes parameterCount } }
  datasets { nodes { id name kind trainSize valSize inputShape classes } }
  experiments { name description reference twin model runs }
  executionProviders { name available reason }
}`;

const RUNS = `query Runs($filter: RunFilter) {
  runs(first: 100, filter: $filter) { edges { node { ...RunRow } } }
} ${RUN_ROW}`;

const CHANGES = `subscription Changes { runsChanged { kind runId run { ...RunRow } } } ${RUN_ROW}`;

const START_RUN = `mutation Start($input: StartRunInput!) {
  startRun(input: $input) {
    __typename
    ... on Run { id databaseId }
    ... on ValidationError { field message }
    ... on NotFoundError { message }
  }
}`;

const START_EXPERIMENT = `mutation Experiment($name: String!) {
  startExperiment(name: $name) {
    __typename
    ... on ExperimentStart { runs { id databaseId } }
    ... on ValidationError { field message }
  }
}`;

/** A dataset registered from a spec is named by the whole spec ("synthetic:samples=100,…"). */
const shortName = (name) => (name.length > 24 ? `${name.slice(0, 22)}…` : name);

const DEFAULT_LR = { SGD: 0.01, ADAM: 0.001, ADAMW: 0.001, RMSPROP: 0.01 };

export function runsPage(view) {
  const runs = new Map();
  const selected = new Set();
  const disposers = [];
  let alive = true;

  const { aside, tbody, compareBtn, empty, main } = runsLayout(view);

  compareBtn.addEventListener("click", () => {
    location.hash = `#/compare?ids=${[...selected].map((id) => runs.get(id)?.databaseId).join(",")}`;
  });

  function renderRows() {
    const rows = [...runs.values()].sort((a, b) => b.databaseId - a.databaseId);
    empty.hidden = rows.length > 0;
    tbody.replaceChildren(...rows.map(row));
    compareBtn.disabled = selected.size < 2;
    compareBtn.textContent = selected.size >= 2 ? `Compare ${selected.size} runs` : "Compare selected";
  }

  const row = (r) =>
    runRow(r, selected.has(r.id), {
      select: (on) => {
        if (on) selected.add(r.id);
        else selected.delete(r.id);
        renderRows();
      },
      act: async (kind) => {
        try {
          await runAction(kind, r.id);
          if (kind === "delete") {
            runs.delete(r.id);
            selected.delete(r.id);
          }
          await refresh();
        } catch (err) {
          showError(main, err);
        }
      },
    });

  async function refresh(filter) {
    const data = await gql(RUNS, { filter });
    if (!alive) return;
    if (!filter) runs.clear();
    for (const { node } of data.runs.edges) runs.set(node.id, node);
    renderRows();
  }

  // Live list: runsChanged carries the run as it is now.
  disposers.push(
    subscribe(CHANGES, () => ({}), {
      next: (data) => {
        const e = data.runsChanged;
        if (e.kind === "DELETED" || !e.run) {
          runs.delete(e.runId);
          selected.delete(e.runId);
        } else runs.set(e.run.id, e.run);
        renderRows();
      },
    }),
  );
  const poll = setInterval(() => {
    if ([...runs.values()].some((r) => r.status === "RUNNING"))
      refresh({ status: ["RUNNING"] }).catch(() => {});
  }, 1000);
  disposers.push(() => clearInterval(poll));

  refresh().catch((err) => showError(main, err));
  const loadAside = () =>
    gql(HOME)
      .then((home) => {
        if (!alive) return;
        aside.replaceChildren();
        // models and datasets are connections: the form wants their nodes.
        const lists = { ...home, models: home.models.nodes, datasets: home.datasets.nodes };
        renderAside(aside, lists, main, loadAside);
      })
      .catch((err) => showError(main, err));
  loadAside();

  return () => {
    alive = false;
    for (const d of disposers) d();
  };
}

/** The run table (with its compare button) beside the start-a-run aside, appended to `view`. */
function runsLayout(view) {
  const aside = h("aside", { class: "side" });
  const tbody = h("tbody");
  const compareBtn = h(
    "button",
    { class: "primary", disabled: true, id: "compare-selected" },
    "Compare selected",
  );
  const empty = h(
    "p",
    { class: "muted empty" },
    "No runs yet: start a reference experiment or a run of your own.",
  );
  const main = h(
    "section",
    { class: "main" },
    h(
      "div",
      { class: "card" },
      h("header", { class: "row" }, h("h2", {}, "Runs"), h("span", { class: "grow" }), compareBtn),
      h(
        "table",
        { class: "runs", id: "runs" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, ""),
            h("th", {}, "Run"),
            h("th", {}, "Model · data"),
            h("th", {}, "Settings"),
            h("th", {}, "Status"),
            h("th", { class: "progress-col" }, "Progress"),
            h("th", {}, ""),
          ),
        ),
        tbody,
      ),
      empty,
    ),
  );
  view.append(h("div", { class: "layout" }, aside, main));

  return { aside, tbody, compareBtn, empty, main };
}

/** One row of the run table; `on.select(checked)` and `on.act(kind)` handle its controls. */
function runRow(r, isSelected, on) {
  const frac = r.totalSteps ? r.stepsCompleted / r.totalSteps : 0;
  const check = h("input", {
    type: "checkbox",
    checked: isSelected,
    title: "Select to compare",
    "aria-label": `select run ${r.databaseId} to compare`,
    onchange: (e) => on.select(e.target.checked),
  });
  const actions = h("td", { class: "actions" });
  const act = (label, kind, cls = "") =>
    h(
      "button",
      {
        class: `small ${cls}`,
        dataset: { action: kind },
        onclick: () => {
          if (kind === "delete" && !confirm(`Delete run #${r.databaseId} with its metrics and checkpoints?`))
            return;
          return on.act(kind);
        },
      },
      label,
    );
  if (r.status === "QUEUED" || r.status === "RUNNING") actions.append(act("Cancel", "cancel"));
  // An EXTERNAL run (logged by its own trainer) goes on when that trainer logs again.
  const external = r.kind === "EXTERNAL";
  if (!external && ["INTERRUPTED", "CANCELLED", "FAILED"].includes(r.status))
    actions.append(act("Resume", "resume"));
  actions.append(act("Delete", "delete", "danger"));
  return h(
    "tr",
    { dataset: { runId: r.id, status: r.status } },
    h("td", {}, check),
    h("td", {}, h("a", { href: `#/runs/${r.databaseId}` }, `#${r.databaseId} ${r.name}`)),
    external
      ? h(
          "td",
          { class: "muted", title: "Logged by an external trainer (logMetrics, gradstream log)" },
          h("span", { class: "badge external" }, "external"),
        )
      : h("td", { class: "muted", title: r.dataset.name }, `${r.model.name} · ${shortName(r.dataset.name)}`),
    h("td", { class: "muted settings" }, describeConfig(r.hyperparameters)),
    h("td", { title: r.errorMessage ?? "" }, statusBadge(r.status)),
    h(
      "td",
      { class: "progress-col" },
      h("div", { class: "bar" }, h("span", { style: `width:${(frac * 100).toFixed(1)}%` })),
      h(
        "small",
        { class: "muted" },
        `${r.stepsCompleted.toLocaleString()} / ${r.totalSteps.toLocaleString()}`,
      ),
    ),
    actions,
  );
}

function renderAside(aside, home, main, reload) {
  // `numbers`: the runs' databaseIds, which the dashboard's URLs carry.
  const go = (numbers) => {
    location.hash = numbers.length > 1 ? `#/compare?ids=${numbers.join(",")}` : `#/runs/${numbers[0]}`;
  };
  const experimentCard = (e) =>
    h(
      "div",
      { class: "experiment" },
      h(
        "div",
        { class: "row" },
        h("strong", {}, e.name),
        h("span", { class: "grow" }),
        h(
          "button",
          {
            class: "small primary",
            dataset: { experiment: e.name },
            onclick: async (ev) => {
              ev.target.disabled = true;
              try {
                const res = (await gql(START_EXPERIMENT, { name: e.name })).startExperiment;
                if (res.__typename === "ValidationError") throw new Error(res.message);
                go(res.runs.map((r) => r.databaseId));
              } catch (err) {
                ev.target.disabled = false;
                showError(main, err);
              }
            },
          },
          "Start",
        ),
      ),
      h("p", { class: "muted" }, e.description),
    );
  const refs = home.experiments.filter((e) => e.reference);
  const twins = home.experiments.filter((e) => !e.reference);
  aside.append(
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Reference experiments"),
      ...refs.map(experimentCard),
      h("details", {}, h("summary", {}, `Learnable twins (${twins.length})`), ...twins.map(experimentCard)),
    ),
    startForm(home, go),
    uploadForm(reload),
  );
}

const REGISTER = `mutation Register($file: Upload!, $name: String!) {
  registerModel(file: $file, name: $name) {
    __typename
    ... on Model { id name }
    ... on UnsupportedModelError { message ops }
    ... on ValidationError { field message }
  }
}`;

/** Registers an ONNX forward model (e.g. a torch.onnx.export file) with a GraphQL multipart request. */
function uploadForm(reload) {
  const file = h("input", { type: "file", name: "file", accept: ".onnx", required: true });
  const name = h("input", { type: "text", name: "modelName", placeholder: "my-model", required: true });
  const message = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit" }, "Upload");
  const form = h(
    "form",
    { class: "card start", id: "upload-form" },
    h("h2", {}, "Upload a model"),
    h(
      "p",
      { class: "muted small" },
      "An ONNX forward model (for instance from torch.onnx.export); it is compiled before it is stored. To compare example 3 with and without dropout, upload the CNN exported with p = 0.",
    ),
    h("label", { class: "field" }, h("span", { class: "label" }, "ONNX file"), file),
    h("label", { class: "field" }, h("span", { class: "label" }, "Name"), name),
    message,
    submit,
  );
  file.addEventListener("change", () => {
    if (!name.value && file.files[0]) name.value = file.files[0].name.replace(/\.onnx$/i, "");
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    const body = new FormData();
    body.append(
      "operations",
      JSON.stringify({ query: REGISTER, variables: { file: null, name: name.value.trim() } }),
    );
    body.append("map", JSON.stringify({ 0: ["variables.file"] }));
    body.append("0", file.files[0]);
    submit.disabled = true;
    try {
      // The header forces a CORS preflight: the server refuses multipart without it (cross-site forms).
      const res = await fetch("/graphql", {
        method: "POST",
        headers: { ...authHeaders(), "x-graphql-yoga-csrf": "1" },
        body,
      });
      const json = await res.json();
      if (json.errors?.length) throw new Error(json.errors.map((e) => e.message).join("; "));
      const r = json.data.registerModel;
      if (r.__typename !== "Model") throw new Error(r.field ? `${r.field}: ${r.message}` : r.message);
      reload();
    } catch (err) {
      message.textContent = err instanceof Error ? err.message : String(err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The start form's inputs, with the defaults and the model → fitting datasets link wired. */
function formControls(home) {
  const model = h(
    "select",
    { name: "model" },
    home.models.map((m) =>
      h("option", { value: m.id }, `${m.name} (${m.parameterCount.toLocaleString()} params)`),
    ),
  );
  const dataset = h("select", { name: "dataset" });
  const optimizer = h(
    "select",
    { name: "optimizer" },
    ["SGD", "ADAM", "ADAMW", "RMSPROP"].map((k) => h("option", { value: k }, k === "ADAMW" ? "AdamW" : k)),
  );
  const lr = h("input", { name: "lr", type: "number", step: "any", min: "0", value: "0.01", required: true });
  const batchSize = h("input", {
    name: "batchSize",
    type: "number",
    min: "1",
    step: "1",
    value: "10",
    required: true,
  });
  const epochs = h("input", {
    name: "epochs",
    type: "number",
    min: "1",
    step: "1",
    value: "1",
    required: true,
  });
  const provider = h(
    "select",
    { name: "provider" },
    home.executionProviders.map((p) =>
      h(
        "option",
        { value: p.name, disabled: !p.available, title: p.reason ?? "" },
        p.available ? p.name : `${p.name} (unavailable)`,
      ),
    ),
  );
  const k = h("input", { name: "k", type: "number", min: "1", max: "1000", step: "1", value: "10" });
  const valFraction = h("input", {
    name: "validation",
    type: "number",
    min: "0",
    max: "0.5",
    step: "0.05",
    value: "0",
  });
  const name = h("input", { name: "name", type: "text", placeholder: "optional" });
  // Only datasets whose samples fit the model's input are offered.
  const syncDatasets = () => {
    const m = home.models.find((x) => x.id === model.value);
    const fits = home.datasets.filter(
      (d) =>
        !m ||
        (d.classes === m.classes &&
          d.inputShape.reduce((a, b) => a * b, 1) === m.inputShape.reduce((a, b) => a * b, 1)),
    );
    dataset.replaceChildren(
      ...fits.map((d) =>
        h("option", { value: d.id }, `${d.name} (${d.kind}, ${d.trainSize.toLocaleString()} samples)`),
      ),
    );
  };
  model.addEventListener("change", syncDatasets);
  const linear = home.models.find((m) => m.name === "linear");
  if (linear) model.value = linear.id;
  syncDatasets();
  optimizer.addEventListener("change", () => {
    lr.value = String(DEFAULT_LR[optimizer.value]);
  });
  const cpu = home.executionProviders.find((p) => p.name === "CPU");
  if (cpu) provider.value = "CPU";

  return { model, dataset, optimizer, lr, batchSize, epochs, provider, k, valFraction, name };
}

function startForm(home, go) {
  const field = (label, control, hint) =>
    h(
      "label",
      { class: "field" },
      h("span", { class: "label" }, label),
      control,
      hint ? h("small", { class: "muted" }, hint) : null,
    );
  const { model, dataset, optimizer, lr, batchSize, epochs, provider, k, valFraction, name } =
    formControls(home);
  const message = h("p", { class: "form-error", role: "alert" });

  const submit = h("button", { class: "primary", type: "submit" }, "Start run");
  const form = h(
    "form",
    { class: "card start", id: "start-form" },
    h("h2", {}, "New run"),
    field("Model", model),
    field("Dataset", dataset),
    h("div", { class: "grid2" }, field("Optimizer", optimizer), field("Learning rate", lr)),
    h("div", { class: "grid2" }, field("Batch size", batchSize), field("Epochs", epochs)),
    h("div", { class: "grid2" }, field("Provider", provider), field("Steps per chunk (K)", k)),
    h("div", { class: "grid2" }, field("Validation fraction", valFraction), field("Name", name)),
    message,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    const input = {
      model: model.value,
      dataset: dataset.value,
      optimizer: { kind: optimizer.value, lr: Number(lr.value) },
      batchSize: Number(batchSize.value),
      epochs: Number(epochs.value),
      provider: provider.value,
      k: Number(k.value),
      name: name.value.trim() || undefined,
      validation: Number(valFraction.value) > 0 ? { fraction: Number(valFraction.value) } : undefined,
    };
    submit.disabled = true;
    try {
      const res = (await gql(START_RUN, { input })).startRun;
      if (res.__typename !== "Run") {
        message.textContent = res.field ? `${res.field}: ${res.message}` : res.message;
        return;
      }
      go([res.databaseId]);
    } catch (err) {
      message.textContent = err instanceof Error ? err.message : String(err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
