/* The dashboard's charts: labeled items per wave, the learning curve, precision–recall curves
   and the reliability diagram. Chart.js is the vendored UMD build, loaded by a classic script
   tag before the modules run, so it is read from window rather than imported. */
import { fmt, rareNames, showEmpty } from "./panels.js";

const RARE = "#c2410c";
const PALETTE = ["#2f5bd3", "#15803d", "#7c3aed", "#0891b2", "#be185d", "#65a30d", "#ca8a04", "#475569",
                 "#dc2626", "#0d9488", "#9333ea", "#2563eb"];
const charts = {};

// Redrawing a canvas needs the old chart destroyed first, or Chart.js refuses the canvas.
function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new window.Chart(document.getElementById(id), config);
}

export function labeledPerWave(data) {
  const canvas = document.getElementById("chart-waves");
  const rare = rareNames(data);
  const waves = data.labeled_per_wave.waves;
  showEmpty(canvas, !waves.length);
  if (!waves.length) return;
  const names = Object.keys(data.labeled_per_wave.series);
  draw("chart-waves", {
    type: "bar",
    data: {labels: waves, datasets: names.map((name, i) => ({
      // Every label keeps its own colour; rare ones get a ★ and a thick orange outline.
      label: (rare.has(name) ? "★ " : "") + name + (rare.has(name) ? " (rare)" : ""),
      data: data.labeled_per_wave.series[name], backgroundColor: PALETTE[i % PALETTE.length],
      borderColor: rare.has(name) ? RARE : "#fff", borderWidth: rare.has(name) ? 3 : 1,
    }))},
    options: {animation: false, responsive: true,
              scales: {x: {stacked: true}, y: {stacked: true, title: {display: true, text: "items labeled"}}},
              plugins: {legend: {labels: {boxWidth: 10}}}},
  });
}

export function learningCurve(data) {
  const canvas = document.getElementById("chart-curve");
  const pts = data.learning_curve;
  showEmpty(canvas, !pts.length);
  if (!pts.length) return;
  // clip: false keeps points that sit exactly on 0 or 1 visible at the chart's edge.
  draw("chart-curve", {
    type: "line",
    data: {labels: pts.map((p) => "v" + p.version + " (" + p.train_size + ")"),
           datasets: [{label: "macro-F1", data: pts.map((p) => p.macro_f1), borderColor: PALETTE[0],
                       backgroundColor: PALETTE[0], pointRadius: 5, clip: false},
                      {label: "rare-label recall", data: pts.map((p) => p.rare_recall), borderColor: RARE,
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

export function prCurves(data) {
  const canvas = document.getElementById("chart-pr");
  const select = document.getElementById("pr-labels");
  const curves = data.pr_curves.curves || {};
  const names = Object.keys(curves);
  document.getElementById("pr-source").textContent = data.pr_curves.source ? "Source: " + data.pr_curves.source : "";
  showEmpty(canvas, !names.length);
  select.hidden = !names.length;
  if (!names.length) return;
  select.textContent = "";
  const rare = rareNames(data);
  // The first three labels and the first rare ones start selected; more clutter the chart.
  names.forEach((name, i) => {
    const opt = document.createElement("option");
    opt.value = name; opt.textContent = name + (rare.has(name) ? " (rare)" : "");
    opt.selected = i < 3 || rare.has(name) && i < 8;
    select.appendChild(opt);
  });
  const redraw = () => {
    const chosen = Array.from(select.selectedOptions).map((o) => o.value);
    draw("chart-pr", {
      type: "scatter",
      data: {datasets: chosen.map((name, i) => {
        const c = curves[name];
        return {label: name + " (AP " + fmt(c.average_precision, 2) + ")", showLine: true, pointRadius: 0, clip: false,
                borderColor: rare.has(name) ? RARE : PALETTE[i % PALETTE.length],
                data: c.recall.map((r, k) => ({x: r, y: c.precision[k]}))};
      })},
      options: {animation: false, scales: {x: {min: 0, max: 1, title: {display: true, text: "recall"}},
                                           y: {min: 0, max: 1, title: {display: true, text: "precision"}}}},
    });
  };
  select.onchange = redraw;
  redraw();
}

export function reliability(data) {
  const canvas = document.getElementById("chart-reliability");
  const bins = Array.isArray(data.reliability.bins) ? data.reliability.bins : [];
  const rel = document.getElementById("rel-source");
  const cal = data.model && data.model.calibration;
  rel.textContent = (data.reliability.source
    ? "Source: " + data.reliability.source + (data.reliability.ece !== null ? " · ECE " + fmt(data.reliability.ece) : "")
    : "") +
    (cal && cal.ece_before !== null && cal.ece_before !== undefined
      ? " · validation ECE " + fmt(cal.ece_before) + " before → " + fmt(cal.ece_after) + " after " + cal.method + " scaling"
      : "");
  const used = bins.filter((b) => b.count);
  showEmpty(canvas, !used.length);
  if (!used.length) return;
  draw("chart-reliability", {
    type: "scatter",
    data: {datasets: [
      {label: "perfect calibration", data: [{x: 0, y: 0}, {x: 1, y: 1}], showLine: true, pointRadius: 0,
       borderColor: "#94a3b8", borderDash: [4, 4]},
      {label: "accuracy per confidence bin", data: used.map((b) => ({x: b.confidence, y: b.accuracy})),
       showLine: true, borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: 5, clip: false},
    ]},
    options: {animation: false, scales: {x: {min: 0, max: 1, title: {display: true, text: "confidence"}},
                                         y: {min: 0, max: 1, title: {display: true, text: "accuracy"}}}},
  });
}
