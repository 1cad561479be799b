// The dashboard's entry point: a hash router over three pages (runs, one run, compare). Each page's
// render(view, params) returns a cleanup function that closes its subscriptions and charts.
import { compareRuns } from "./compare.js";
import { h } from "./dom.js";
import {
  dropConnection,
  getToken,
  gql,
  onAuthRequired,
  onConnectionChange,
  runGlobalId,
  setToken,
} from "./gql.js";
import { runPage } from "./run.js";
import { runsPage } from "./runs.js";

const view = document.getElementById("view");
let cleanup = () => {};

// Tests and curious users reach the live state through this hook.
window.__gradstream = { charts: {}, dropConnection };

function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  cleanup();
  window.__gradstream.charts = {};
  view.replaceChildren();
  let page = "runs";
  const run = /^\/runs\/(\d+)$/.exec(path);
  if (run) {
    page = "run";
    cleanup = runPage(view, runGlobalId(run[1]));
  } else if (path === "/compare") {
    page = "compare";
    cleanup = compareRuns(view, params);
  } else {
    cleanup = runsPage(view);
  }
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === page || (page === "run" && a.dataset.nav === "runs"));
  }
}

const conn = document.getElementById("conn");
onConnectionChange((state) => {
  conn.className = `conn ${state}`;
  conn.title =
    state === "connected" ? "Live: connected to the server" : "Not connected (reconnects on demand)";
});

// ── Sign-in ──────────────────────────────────────────────────────────────────────────────────────
// When the server requires tokens, a 401 (or a graphql-ws close 4401) shows the prompt; a read-only
// token disables every control that would send a mutation, each saying why.
const who = document.getElementById("who");
const signin = document.getElementById("signin");
const tokenInput = h("input", {
  type: "password",
  name: "token",
  autocomplete: "off",
  placeholder: "API token (gradstream token create)",
  required: true,
});
const signinMessage = h("p", { class: "form-error", role: "alert" });
const signinForm = h(
  "form",
  { class: "card", id: "signin-form" },
  h("h2", {}, "Sign in"),
  h(
    "p",
    { class: "muted small" },
    "This server requires an API token. It is kept in this tab's session storage only and sent with every request.",
  ),
  h("label", { class: "field" }, h("span", { class: "label" }, "Token"), tokenInput),
  signinMessage,
  h("button", { class: "primary", type: "submit" }, "Sign in"),
);
signin.append(signinForm);

function showSignin(message) {
  signin.hidden = false;
  signinMessage.textContent = message ?? "";
  tokenInput.focus();
}

const WRITE_CONTROLS =
  "[data-action], [data-experiment], form.start input, form.start select, form.start button";
let readOnlyReason = null;

function applyScope() {
  if (!readOnlyReason) return;
  for (const el of document.querySelectorAll(WRITE_CONTROLS)) {
    if (!el.disabled || el.title !== readOnlyReason) {
      el.disabled = true;
      el.title = readOnlyReason;
    }
  }
}
new MutationObserver(applyScope).observe(view, {
  subtree: true,
  childList: true,
  attributes: true,
  attributeFilter: ["disabled"],
});

async function loadViewer() {
  const { viewer } = await gql("{ viewer { name canWrite tokensRequired } }");
  readOnlyReason = viewer.canWrite
    ? null
    : `token "${viewer.name}" is read-only: starting, cancelling, deleting, exporting and uploading need a write token`;
  document.body.classList.toggle("read-only", !viewer.canWrite);
  who.replaceChildren();
  if (viewer.tokensRequired && getToken()) {
    who.append(
      h(
        "span",
        { title: readOnlyReason ?? "write access" },
        `${viewer.name}${viewer.canWrite ? "" : " (read-only)"}`,
      ),
      " ",
      h("button", { class: "small", id: "signout", onclick: () => signOut() }, "Sign out"),
    );
  }
  applyScope();
  return viewer;
}

function signOut() {
  setToken(null);
  readOnlyReason = null;
  who.replaceChildren();
  cleanup();
  cleanup = () => {};
  view.replaceChildren();
  showSignin("");
}

signinForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  setToken(tokenInput.value.trim());
  signinMessage.textContent = "";
  try {
    await loadViewer();
  } catch {
    return; // the 401 listener has shown the server's reason
  }
  tokenInput.value = "";
  signin.hidden = true;
  route();
});

onAuthRequired((message) => {
  cleanup();
  cleanup = () => {};
  view.replaceChildren();
  showSignin(message);
});

window.addEventListener("hashchange", () => {
  if (signin.hidden) route();
});
// A refused token shows the prompt (onAuthRequired); any other failure still shows the page.
loadViewer().then(
  () => route(),
  () => {
    if (signin.hidden) route();
  },
);
