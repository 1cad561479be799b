// The smoothing slider (0–0.99, TensorBoard's default 0.6), shared by the run and compare pages and
// remembered across reloads.
import { h } from "./dom.js";

const KEY = "gradstream.smoothing";

export function smoothingControl(onChange) {
  const stored = Number(localStorage.getItem(KEY));
  const initial = Number.isFinite(stored) && localStorage.getItem(KEY) !== null ? stored : 0.6;
  const input = h("input", {
    type: "range",
    min: "0",
    max: "0.99",
    step: "0.01",
    value: String(initial),
    id: "smoothing",
    "aria-label": "smoothing",
  });
  const out = h("output", { for: "smoothing" }, initial.toFixed(2));
  input.addEventListener("input", () => {
    out.textContent = Number(input.value).toFixed(2);
    localStorage.setItem(KEY, input.value);
    onChange(Number(input.value));
  });
  return {
    el: h(
      "label",
      { class: "smoothing", title: "TensorBoard's debiased exponential moving average" },
      "Smoothing",
      input,
      out,
    ),
    get value() {
      return Number(input.value);
    },
  };
}
