// Thin wrapper over uPlot: fixed-height line charts that follow their card's width, share a cursor
// and x zoom with their siblings, and print the hovered values in the card header instead of a legend.
import uPlot from "/assets/vendor/uplot/uPlot.esm.js";

export const COLORS = [
  "#2563eb",
  "#dc2626",
  "#059669",
  "#d97706",
  "#7c3aed",
  "#0891b2",
  "#db2777",
  "#4b5563",
];

/** #rrggbb → rgba with the given alpha (the faint raw series under a smoothed one). */
export function fade(hex, alpha) {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

const fmt = (v) => {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(a < 1 ? 4 : a < 100 ? 3 : 1);
};

const axis = (label) => ({
  label,
  stroke: "#5b6472",
  labelSize: 18,
  font: "11px system-ui, sans-serif",
  labelFont: "11px system-ui, sans-serif",
  grid: { stroke: "#edf0f4", width: 1 },
  ticks: { stroke: "#dde2e8", width: 1, size: 4 },
});

/**
 * A line chart in `el` (a .chart element with a .readout beside it).
 * series: [{ label, color, faint?, width?, dash? }]; faint series are drawn thin and light and left
 * out of the readout. onZoom(min, max | null) fires when the user drags (null when reset).
 */
export class Chart {
  constructor(
    el,
    {
      xLabel = "step",
      yLabel = "",
      series,
      yRange,
      height = 220,
      sync,
      onZoom,
      readout,
      legend = true,
      bands,
    },
  ) {
    this.el = el;
    this.series = series;
    this.readout = readout;
    this.onZoom = onZoom;
    const opts = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: false }, y: yRange ? { range: yRange } : {} },
      axes: [axis(xLabel), { ...axis(yLabel), size: 56 }],
      series: [
        { label: xLabel },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.faint ? fade(s.color, 0.28) : s.color,
          width: s.width ?? (s.faint ? 1 : 2),
          dash: s.dash,
          spanGaps: true,
          points: s.faint ? { show: false } : { size: 5 },
        })),
      ],
      legend: { show: false },
      // bands: [[upper, lower, color]] as indices into `series`: uPlot shades between the two lines.
      bands: (bands ?? []).map(([hi, lo, color]) => ({ series: [hi + 1, lo + 1], fill: fade(color, 0.18) })),
      cursor: {
        // The page applies a drag's range to every chart of the run (and refines the history), so
        // uPlot only reports the selection here.
        drag: { x: true, y: false, setScale: false },
        sync: sync ? { key: sync, setSeries: false } : undefined,
        points: { size: 6 },
      },
      hooks: {
        setCursor: [(u) => this.showReadout(u.cursor.idx)],
        setSelect: [(u) => this.selected(u)],
      },
    };
    this.u = new uPlot(opts, [[], ...series.map(() => [])], el);
    // Two or more solid lines get a small key beside the title (uPlot's own legend is off).
    const keyed = series.filter((s) => !s.faint);
    if (legend && readout && keyed.length > 1) {
      const key = document.createElement("span");
      key.className = "mini-legend";
      for (const s of keyed) {
        const item = document.createElement("span");
        const line = document.createElement("i");
        line.style.borderTopColor = s.color;
        if (s.dash) line.style.borderTopStyle = "dashed";
        item.append(line, s.label);
        key.append(item);
      }
      readout.before(key);
    }
    this.full = true;
    this.resize = new ResizeObserver(() => {
      const width = Math.max(200, el.clientWidth);
      if (width !== this.u.width) this.u.setSize({ width, height });
    });
    this.resize.observe(el);
    el.addEventListener("dblclick", () => (this.onZoom ? this.onZoom(null) : this.zoomTo(null)));
  }

  /** The columns as drawn: [xs, ...ys] (tests read this). */
  get data() {
    return this.u.data;
  }

  /** Replaces the data; keeps the user's zoom unless the chart shows everything. */
  setData(xs, ys) {
    const keep = !this.full;
    if (keep) {
      // setData(…, false) keeps the scales but also uPlot's visible index window from the old data;
      // setting the same x range again recomputes it (and the y range) for the new points.
      const { min, max } = this.u.scales.x;
      this.u.batch(() => {
        this.u.setData([xs, ...ys], false);
        this.u.setScale("x", { min, max });
      });
    } else {
      this.u.setData([xs, ...ys], true);
    }
    this.showReadout(this.u.cursor.idx);
  }

  zoomTo(min, max) {
    if (min === null) {
      this.full = true;
      const xs = this.u.data[0];
      if (xs.length) this.u.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
    } else {
      this.full = false;
      this.u.setScale("x", { min, max });
    }
  }

  selected(u) {
    const { left, width } = u.select;
    if (width < 4) return;
    const min = u.posToVal(left, "x");
    const max = u.posToVal(left + width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (this.onZoom) this.onZoom(min, max);
    else this.zoomTo(min, max);
  }

  showReadout(idx) {
    if (!this.readout) return;
    const d = this.u.data;
    if (idx === null || idx === undefined || !d[0].length) {
      this.readout.textContent = "";
      return;
    }
    const x = d[0][idx];
    // Steps read better as whole numbers (history buckets sit at half steps).
    const xText = this.u.series[0].label === "step" ? Math.round(x).toLocaleString() : fmt(x);
    const parts = [`${this.u.series[0].label} ${xText}`];
    this.series.forEach((s, i) => {
      if (!s.faint) parts.push(`${s.label} ${fmt(d[i + 1][idx])}`);
    });
    this.readout.textContent = parts.join(" · ");
  }

  destroy() {
    this.resize.disconnect();
    this.u.destroy();
  }
}

/** Aligns several [xs, ...ys] tables on the union of their xs (uPlot.join leaves gaps empty). */
export function alignTables(tables) {
  if (!tables.length) return [[]];
  return uPlot.join(tables);
}

/** Builds a chart card: title, hovered-value readout and the chart container. */
export function chartCard(parent, title, hint) {
  const card = document.createElement("section");
  card.className = "card chart-card";
  card.innerHTML = `<header><h3></h3><span class="readout"></span></header><div class="chart"></div>`;
  card.querySelector("h3").textContent = title;
  if (hint) card.querySelector("h3").title = hint;
  parent.append(card);
  return { card, el: card.querySelector(".chart"), readout: card.querySelector(".readout") };
}
