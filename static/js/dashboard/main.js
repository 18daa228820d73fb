/* Project dashboard entry: fetches /api/projects/<slug>/dashboard/ once and hands the data to
   each panel. A panel that throws only logs a warning, so one bad figure cannot blank the rest
   of the page. Every table ends up sortable by its columns (sortable.js). */
import { learningCurve, reliability } from "./charts.js";
import { confusion } from "./confusion.js";
import { prCurves } from "./pr.js";
import { sortableTables } from "./sortable.js";
import { agreement, perClass, thresholds, throughput } from "./tables.js";
import { labeledPerWave } from "./waves.js";

const PANELS = [labeledPerWave, learningCurve, perClass, confusion, prCurves, reliability, thresholds, throughput,
                agreement];

const root = document.getElementById("dashboard");
if (root) {
  const status = document.getElementById("dash-status");
  fetch(root.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
    .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then((data) => {
      status.textContent = data.model
        ? (data.model.notes || []).join(" ")
        : "No trained model yet: model charts appear after the first training.";
      PANELS.forEach((panel) => { try { panel(data); } catch (err) { console.warn(panel.name, err); } });
      sortableTables(root);
      root.dataset.ready = "1";
    })
    .catch((err) => { status.textContent = "Could not load the dashboard: " + err.message; });
}
