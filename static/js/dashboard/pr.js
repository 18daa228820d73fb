/* Precision–recall curves, one label at a time or a few side by side: a filterable list of every
   label with a curve, at most MAX_CURVES drawn at once, each in its own colour (rare labels
   dashed). The legend is a list under the chart: it wraps at any width instead of being cut
   off, so it always names every curve drawn. A curve from fewer positives than the server's
   min_n has no AP ("—", with its count) and no points: it is listed, never drawn. */
import { draw as drawChart, PALETTE } from "./charts.js";
import { fmt, rareNames, showEmpty } from "./panels.js";

export const MAX_CURVES = 8;

export function prCurves(data) {
  const canvas = document.getElementById("chart-pr");
  const select = document.getElementById("pr-labels");
  const filter = document.getElementById("pr-filter");
  const note = document.getElementById("pr-note");
  const legend = document.getElementById("pr-legend");
  const curves = data.pr_curves.curves || {};
  // In the project's label order (a JSON object's key order is not kept by every database).
  const ordered = data.labels.map((l) => l.name).filter((n) => Object.prototype.hasOwnProperty.call(curves, n));
  const names = ordered.concat(Object.keys(curves).filter((n) => ordered.indexOf(n) < 0));
  document.getElementById("pr-source").textContent = data.pr_curves.source ? "Source: " + data.pr_curves.source : "";
  showEmpty(canvas, !names.length);
  select.hidden = filter.hidden = !names.length;
  note.textContent = "";
  if (!names.length) return;
  select.textContent = "";
  const rare = rareNames(data);
  const minN = data.pr_curves.min_n;
  const count = (c) => (typeof c.positives === "number" ? c.positives + " positive" + (c.positives === 1 ? "" : "s") : "");
  const ap = (c) => (c.too_few ? "AP — (" + count(c) + ", fewer than " + minN + ": not drawn)"
    : "AP " + fmt(c.average_precision, 2) + (count(c) ? " (" + count(c) + ")" : ""));
  const title = (name) => name + (rare.has(name) ? " (rare)" : "") + " · " + ap(curves[name]);
  // The rare labels first (up to three), then the first labels, four in all to start with;
  // only curves that are drawn, unless there are none.
  const drawable = names.filter((n) => !curves[n].too_few);
  const pool = drawable.length ? drawable : names;
  const start = pool.filter((n) => rare.has(n)).slice(0, 3);
  pool.forEach((n) => { if (start.length < 4 && start.indexOf(n) < 0) start.push(n); });
  names.forEach((name) => {
    const opt = document.createElement("option");
    opt.value = name;
    opt.textContent = opt.title = title(name);
    opt.selected = start.indexOf(name) >= 0;
    select.appendChild(opt);
  });
  const redraw = () => {
    let chosen = Array.from(select.selectedOptions).map((o) => o.value);
    note.textContent = chosen.length > MAX_CURVES
      ? chosen.length + " labels chosen: the first " + MAX_CURVES + " are drawn." : "";
    chosen = chosen.slice(0, MAX_CURVES);
    const colour = (i) => PALETTE[i % PALETTE.length];
    legend.textContent = "";
    chosen.forEach((name, i) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.borderTop = "3px " + (rare.has(name) ? "dashed " : "solid ") + colour(i);
      li.appendChild(swatch);
      li.appendChild(document.createTextNode(title(name)));
      legend.appendChild(li);
    });
    drawChart("chart-pr", {
      type: "scatter",
      data: {datasets: chosen.map((name, i) => {
        const c = curves[name];
        return {label: title(name), showLine: true, pointRadius: 0, clip: false, borderWidth: 2,
                borderColor: colour(i), backgroundColor: colour(i),
                borderDash: rare.has(name) ? [6, 3] : [],
                data: (c.recall || []).map((r, k) => ({x: r, y: c.precision[k]}))};
      })},
      options: {animation: false, maintainAspectRatio: false,
                plugins: {legend: {display: false}},
                scales: {x: {min: 0, max: 1, title: {display: true, text: "recall"}},
                         y: {min: 0, max: 1, title: {display: true, text: "precision"}}}},
    });
  };
  select.onchange = redraw;
  filter.oninput = () => {
    const q = filter.value.trim().toLowerCase();
    Array.from(select.options).forEach((o) => { o.hidden = q !== "" && o.value.toLowerCase().indexOf(q) < 0; });
  };
  redraw();
}
