/* Project dashboard entry: fetches /api/projects/<slug>/dashboard/ once and hands the data to
   each panel. A panel that throws only logs a warning, so one bad figure cannot blank the rest
   of the page. */
import { labeledPerWave, learningCurve, prCurves, reliability } from "./charts.js";
import { agreement, confusion, perClass, thresholds, throughput } from "./tables.js";

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
    })
    .catch((err) => { status.textContent = "Could not load the dashboard: " + err.message; });
}
