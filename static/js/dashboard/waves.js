/* Labeled items per wave, readable at 30–300 labels: the chart stacks two series only (rare
   labels, the others), so its legend is always complete; the per-label counts are a sortable
   table (one row per label, one column per wave, a total) with a name filter. */
import { draw as drawChart, PALETTE, RARE } from "./charts.js";
import { rareNames, showEmpty } from "./panels.js";
import { sortTable } from "./sortable.js";

function sum(values) { return values.reduce((a, b) => a + b, 0); }

export function labeledPerWave(data) {
  const canvas = document.getElementById("chart-waves");
  const table = document.getElementById("wave-counts");
  const filter = document.getElementById("wave-filter");
  const rare = rareNames(data);
  const waves = data.labeled_per_wave.waves;
  const series = data.labeled_per_wave.series;
  showEmpty(canvas, !waves.length);
  table.hidden = filter.hidden = !waves.length;
  if (!waves.length) return;
  const names = Object.keys(series);
  const total = (pick) => waves.map((_, w) => sum(names.filter(pick).map((n) => series[n][w] || 0)));
  drawChart("chart-waves", {
    type: "bar",
    data: {labels: waves, datasets: [
      {label: "★ rare labels (" + names.filter((n) => rare.has(n)).length + ")",
       data: total((n) => rare.has(n)), backgroundColor: RARE},
      {label: "other labels (" + names.filter((n) => !rare.has(n)).length + ")",
       data: total((n) => !rare.has(n)), backgroundColor: PALETTE[0]},
    ]},
    options: {animation: false, responsive: true, maintainAspectRatio: false,
              scales: {x: {stacked: true}, y: {stacked: true, title: {display: true, text: "items labeled"}}},
              plugins: {legend: {position: "bottom", labels: {boxWidth: 10}}}},
  });

  const head = table.tHead || table.createTHead();
  head.textContent = "";
  const tr = head.insertRow();
  ["label"].concat(waves, ["total"]).forEach((h) => {
    const th = document.createElement("th"); th.textContent = h; tr.appendChild(th);
  });
  const body = table.tBodies[0] || table.createTBody();
  body.textContent = "";
  names.forEach((name) => {
    const row = body.insertRow();
    row.dataset.label = name.toLowerCase();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = (rare.has(name) ? "★ " : "") + name;
    if (rare.has(name)) th.className = "rare";
    row.appendChild(th);
    series[name].forEach((n) => { row.insertCell().textContent = String(n); });
    row.insertCell().textContent = String(sum(series[name]));
  });
  sortTable(table, waves.length + 1, false);  // most labeled first
  filter.oninput = () => {
    const q = filter.value.trim().toLowerCase();
    Array.from(body.rows).forEach((row) => { row.hidden = q !== "" && row.dataset.label.indexOf(q) < 0; });
  };
}
