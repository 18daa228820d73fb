/* The dashboard's charts: the learning curve and the reliability diagram, and what every chart
   shares (labeled items per wave: waves.js; precision–recall curves: pr.js). Chart.js is the
   vendored UMD build, loaded by a classic script tag before the modules run, so it is read from
   window rather than imported. */
import { fmt, showEmpty } from "./panels.js";

export const RARE = "#c2410c";
export const PALETTE = ["#2f5bd3", "#15803d", "#7c3aed", "#0891b2", "#be185d", "#65a30d", "#ca8a04", "#475569",
                 "#dc2626", "#0d9488", "#9333ea", "#2563eb"];
const charts = {};

// Redrawing a canvas needs the old chart destroyed first, or Chart.js refuses the canvas.
export function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new window.Chart(document.getElementById(id), config);
}

export function learningCurve(data) {
  const canvas = document.getElementById("chart-curve");
  const pts = data.learning_curve;
  const note = document.getElementById("curve-note");
  note.textContent = "";
  showEmpty(canvas, !pts.length);
  if (!pts.length) {
    // A model trained on too few labels to hold any out has no point to plot: it is there all the same.
    canvas.closest("section").querySelector(".empty").textContent = data.model
      ? "Model v" + data.model.number + " (trained on " + data.model.train_size + " labels) has no held-out " +
        "metrics yet: too few labels to estimate them."
      : "No trained model yet.";
    return;
  }
  // A figure below the small-n rule is no point (a gap in its line); the note says which and why.
  const missing = [];
  pts.forEach((p) => {
    if (p.macro_f1_reason) missing.push("v" + p.version + " macro-F1: " + p.macro_f1_reason);
    if (p.rare_recall_reason) missing.push("v" + p.version + " rare-label recall: " + p.rare_recall_reason);
  });
  note.textContent = missing.length ? "Not plotted (fewer than " + data.min_n + " items per label): " +
    missing.join(" · ") : "";
  // clip: false keeps points that sit exactly on 0 or 1 visible at the chart's edge.
  draw("chart-curve", {
    type: "line",
    data: {labels: pts.map((p) => "v" + p.version + " (" + p.train_size + ")"),
           datasets: [{label: "macro-F1 on labeled items (validation)", data: pts.map((p) => p.macro_f1), borderColor: PALETTE[0],
                       backgroundColor: PALETTE[0], pointRadius: 5, clip: false},
                      {label: "rare-label recall on labeled items (validation)", data: pts.map((p) => p.rare_recall), borderColor: RARE,
                       backgroundColor: RARE, pointRadius: 5, pointStyle: "triangle", clip: false},
                      {label: "macro-F1 on the pool (estimate, 95 % interval)", data: pts.map((p) => p.macro_f1_estimate),
                       borderColor: PALETTE[2], backgroundColor: PALETTE[2], pointRadius: 4, pointStyle: "rect",
                       borderDash: [4, 3], clip: false}]},
    options: {animation: false,
              scales: {y: {min: 0, max: 1}, x: {title: {display: true, text: "model version (training labels)"}}}},
    plugins: [{id: "errorBars", afterDatasetsDraw(chart) {
      // Vertical bars for the estimate's interval (dataset 2), drawn on the chart's own scales.
      const meta = chart.getDatasetMeta(2);
      if (meta.hidden) return;
      const ctx = chart.ctx, y = chart.scales.y;
      ctx.save(); ctx.strokeStyle = PALETTE[2]; ctx.lineWidth = 1.5;
      pts.forEach((p, i) => {
        if (!p.macro_f1_ci || !meta.data[i]) return;
        const x = meta.data[i].x, lo = y.getPixelForValue(p.macro_f1_ci[0]), hi = y.getPixelForValue(p.macro_f1_ci[1]);
        ctx.beginPath(); ctx.moveTo(x, lo); ctx.lineTo(x, hi);
        ctx.moveTo(x - 4, lo); ctx.lineTo(x + 4, lo); ctx.moveTo(x - 4, hi); ctx.lineTo(x + 4, hi); ctx.stroke();
      });
      ctx.restore();
    }}],
  });
}

export function reliability(data) {
  const canvas = document.getElementById("chart-reliability");
  const bins = Array.isArray(data.reliability.bins) ? data.reliability.bins : [];
  const rel = document.getElementById("rel-source");
  const cal = data.model && data.model.calibration;
  rel.textContent = (data.reliability.source
    ? "Source: " + data.reliability.source + (data.reliability.ece !== null && data.reliability.ece !== undefined ? " · ECE " + fmt(data.reliability.ece)
        : data.reliability.ece_reason ? " · ECE not given: " + data.reliability.ece_reason : "")
    : "") +
    (cal && cal.ece_before !== null && cal.ece_before !== undefined
      ? " · validation ECE " + fmt(cal.ece_before) + " before → " + fmt(cal.ece_after) + " after " + cal.method + " scaling"
      : "");
  const used = bins.filter((b) => b.count);
  // Every bin with items says how many; one with fewer than min_n has no accuracy (too_few) and
  // is not drawn, so no point sits at 1.0 or 0.0 on the strength of one or two items.
  const drawn = used.filter((b) => !b.too_few && b.accuracy !== null && b.accuracy !== undefined);
  const range = (b) => fmt(b.low, 2) + "–" + fmt(b.high, 2);
  document.getElementById("rel-counts").textContent = used.length
    ? "Items per confidence bin: " + used.map((b) => range(b) + ": " + b.count +
        (b.too_few ? " (fewer than " + data.reliability.min_n + ": not drawn)" : "")).join(" · ")
    : "";
  showEmpty(canvas, !used.length);
  if (!used.length) return;
  draw("chart-reliability", {
    type: "scatter",
    data: {datasets: [
      {label: "perfect calibration", data: [{x: 0, y: 0}, {x: 1, y: 1}], showLine: true, pointRadius: 0,
       borderColor: "#94a3b8", borderDash: [4, 4]},
      {label: "accuracy per confidence bin", data: drawn.map((b) => ({x: b.confidence, y: b.accuracy, n: b.count})),
       showLine: true, borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: 5, clip: false},
    ]},
    options: {animation: false, scales: {x: {min: 0, max: 1, title: {display: true, text: "confidence"}},
                                         y: {min: 0, max: 1, title: {display: true, text: "accuracy"}}},
              plugins: {tooltip: {callbacks: {label: (ctx) => (ctx.raw.n === undefined ? ""
                : "accuracy " + fmt(ctx.raw.y, 2) + " at confidence " + fmt(ctx.raw.x, 2) + " (" + ctx.raw.n + " items)")}}}},
    plugins: [{id: "binCounts", afterDatasetsDraw(chart) {
      // Each drawn bin's item count beside its point.
      const meta = chart.getDatasetMeta(1);
      const ctx = chart.ctx;
      ctx.save(); ctx.fillStyle = "#475569"; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "right";
      meta.data.forEach((point, i) => { ctx.fillText("n=" + drawn[i].count, point.x - 7, point.y - 7); });
      ctx.restore();
    }}],
  });
}
