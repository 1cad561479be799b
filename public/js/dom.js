// Tiny DOM helpers: h() builds elements (text is always set as text, never parsed as HTML).
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const STATUS_CLASS = {
  QUEUED: "queued",
  RUNNING: "running",
  COMPLETED: "completed",
  FAILED: "failed",
  CANCELLED: "cancelled",
  INTERRUPTED: "interrupted",
};

export function statusBadge(status) {
  return h("span", { class: `badge ${STATUS_CLASS[status] ?? ""}` }, status.toLowerCase());
}

export function num(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Number(v).toFixed(digits);
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "SGD lr 0.01 · bs 10 · 10 epochs" from a run's hyperparameters. */
export function describeConfig(hp) {
  if (!hp || typeof hp !== "object") return "";
  const opt = hp.optimizer ?? {};
  return [
    opt.kind ? `${String(opt.kind).toUpperCase()} lr ${opt.lr}` : null,
    hp.batchSize ? `bs ${hp.batchSize}` : null,
    hp.epochs ? `${hp.epochs} epoch${hp.epochs === 1 ? "" : "s"}` : null,
  ]
    .filter(Boolean)
    .join(" · ");
}

/** Shows an error message in a dismissible banner at the top of `parent`. */
export function showError(parent, err) {
  const msg = err instanceof Error ? err.message : String(err);
  const banner = h(
    "div",
    { class: "error", role: "alert" },
    msg,
    h("button", { class: "x", title: "Dismiss" }, "×"),
  );
  banner.querySelector("button").addEventListener("click", () => banner.remove());
  parent.prepend(banner);
}
