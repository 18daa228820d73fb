/* The dashboard's tables: per-class metrics, thresholds, annotator throughput and agreement
   (the confusion heat map: confusion.js; sorting: sortable.js). Columns of server-built rows
   (thresholds, throughput, agreement) follow the keys the server sends, so a new metric shows
   up without a change here. All server text goes in through textContent. */
import { cell, fmt, rareNames, showEmpty } from "./panels.js";

// Rows are arrays of cells; a cell is a string or {text, cls}. headers === null keeps the
// template's own header row.
function fillTable(table, headers, rows) {
  const thead = table.tHead || table.createTHead();
  if (headers) {
    thead.textContent = "";
    const tr = thead.insertRow();
    headers.forEach((h) => { const th = document.createElement("th"); th.textContent = h; tr.appendChild(th); });
  }
  const body = table.tBodies[0] || table.createTBody();
  body.textContent = "";
  rows.forEach((cells) => {
    const tr = body.insertRow();
    cells.forEach((c) => {
      const td = tr.insertCell();
      if (c && typeof c === "object") { td.textContent = c.text; if (c.cls) td.className = c.cls; }
      else td.textContent = c;
    });
  });
}

const heading = (k) => k.replace(/_/g, " ");

export function perClass(data) {
  const table = document.getElementById("per-class");
  const rare = rareNames(data);
  showEmpty(table, !data.per_class.length);
  document.getElementById("model-caption").textContent =
    data.model ? "model v" + data.model.number + " (" + data.model.state + ")" +
      (data.model.choices ? ": " + data.model.choices : "") : "";
  // Design-based estimates on the pool (known-π picks of later waves), beside the validation figures.
  const est = {};
  ((data.estimates && data.estimates.labels) || []).forEach((e) => { est[e.label] = e; });
  const withCi = (x, ci) => (x === null || x === undefined || !ci ? "—"
    : fmt(x) + " [" + fmt(ci[0], 2) + ", " + fmt(ci[1], 2) + "]");
  // Bounds of the estimate whatever the picks without a settled label turn out to be.
  const span = (r) => (r ? fmt(r[0], 2) + "–" + fmt(r[1], 2) : "—");
  const ranges = (e) => (e.precision_range || e.recall_range
    ? "P " + span(e.precision_range) + " · R " + span(e.recall_range) : "—");
  fillTable(table, null, data.per_class.map((r) => {
    const e = est[r.label] || {};
    return [
      {text: r.label, cls: rare.has(r.label) ? "rare" : ""}, fmt(r.precision), fmt(r.recall), fmt(r.f1),
      fmt(r.support, 0), fmt(r.average_precision), withCi(e.precision, e.precision_ci),
      withCi(e.recall, e.recall_ci), ranges(e), e.n === undefined ? "—" : String(e.n),
    ];
  }));
  // How many known-π picks were drawn and what became of them, and which sources (and how many
  // unlabeled items) the figures speak for and which they cannot (server text, via textContent).
  const sample = data.estimates && data.estimates.sample;
  const coverage = sample && sample.coverage;
  document.getElementById("est-sample").textContent =
    (sample && sample.summary ? "Pool figures " + sample.summary + "." : "") +
    (coverage && coverage.summary ? " " + coverage.summary + "." : "");
}

// The class mix a version's held-out threshold figures are weighted to (metrics.threshold_mix.used).
const MIX_AT = {pool: "the pool's estimated label mix", uniform: "a uniform label mix",
                stated: "the stated label mix", labeled: "the labeled items' mix"};
// Threshold columns whose figures hold at that mix, titled with it.
const AT_MIX = {precision_lower_bound: "precision lower bound", held_out_precision: "held-out precision",
                held_out_recall: "held-out recall"};

// The column the server adds beside them when they are at another mix: the same kept predictions'
// held-out precision at the labeled items' mix, null for a version trained before it was stored.
const LABELED_MIX = "held_out_precision_labeled_mix";

// Why this table's held-out precision and recall differ from the per-class table's, which are of
// every prediction (no threshold) at the labeled items' mix (docs/estimates.md, "Thresholds that hold").
function mixNote(mix, rows) {
  const kept = "Held-out precision and recall here are of the predictions each threshold keeps";
  const recall = " Recall does not depend on the mix (every row of a label carries the same weight): it is " +
    "lower here only where a threshold leaves predictions out (one chosen for this mix may leave out more).";
  if (mix.used === "labeled") {
    return kept + ", at the labeled items' mix like the per-class table, whose figures are of every prediction " +
      "(no threshold).";
  }
  return kept + ", weighted to " + MIX_AT[mix.used] + (mix.used === "pool" && mix.unlabeled_rows
    ? " (estimated by EM from " + mix.unlabeled_rows + " unlabeled items)" : "") +
    ". The per-class table's are of every prediction (no threshold) at the labeled items' own mix, which " +
    "active learning tilts towards rare labels: " + (mix.used === "pool"
    ? "where a frequent label is confused with a rarer one, precision is lower at the pool's mix than among the " +
      "labeled items."
    : "precision moves with the mix, as often as each confused label occurs.") + labeledMixNote(rows) + recall;
}

// What the labeled-mix column shows: beside this mix's precision, what the mix changes; beside the
// per-class table's, what the threshold changes.
function labeledMixNote(rows) {
  if (!rows.length || !(LABELED_MIX in rows[0])) return "";
  const stored = rows.some((r) => r[LABELED_MIX] !== null && r[LABELED_MIX] !== undefined);
  return " \"Held-out precision at the labeled items' mix\" is of the same kept predictions at the per-class " +
    "table's mix: it differs from the precision beside it by the mix alone, from the per-class table's by the " +
    "threshold alone" + (stored ? "." : " (— : this version was trained before that figure was stored).");
}

export function thresholds(data) {
  const table = document.getElementById("thresholds");
  const rows = data.thresholds.rows || [];
  const mix = data.thresholds.mix && MIX_AT[data.thresholds.mix.used] ? data.thresholds.mix : null;
  document.getElementById("thr-source").textContent = data.thresholds.source ? "Source: " + data.thresholds.source : "";
  document.getElementById("thr-mix-note").textContent = mix && rows.length ? mixNote(mix, rows) : "";
  showEmpty(table, !rows.length);
  if (!rows.length) return;
  const keys = Object.keys(rows[0]);
  const title = (k) => (mix && AT_MIX[k] ? AT_MIX[k] + " at " + MIX_AT[mix.used]
    : k === LABELED_MIX ? "held-out precision at " + MIX_AT.labeled
    : /^held_out_(precision|recall)_95$/.test(k) ? k.slice(9, -3) + " 95 % interval" : heading(k));
  // a precision, though its name says "labeled" (which marks count columns for cell())
  const shown = (k, v) => (k === LABELED_MIX && typeof v === "number" ? fmt(v) : cell(k, v));
  fillTable(table, keys.map(title), rows.map((r) => keys.map((k) => shown(k, r[k]))));
  // The titles that name the mix wrap, so the columns stay as narrow as their figures.
  Array.from(table.tHead.rows[0].cells).forEach((th, i) => {
    if ((mix && AT_MIX[keys[i]]) || keys[i] === LABELED_MIX) { th.style.whiteSpace = "normal"; th.style.minWidth = "9rem"; }
  });
}

export function throughput(data) {
  const table = document.getElementById("throughput");
  const rows = data.throughput || [];
  showEmpty(table, !rows.length);
  if (!rows.length) return;
  // "changed" (answers changed from the History list) shows where the server's rows carry it.
  const wanted = ["username", "role", "answers", "skips", "undone", "changed", "last_24h", "median_seconds_per_answer",
                  "double_labeled", "agreement_with_others"];
  // Throughput counts annotators' own answers: a lead's adjudications are not in them.
  const titles = {answers: "annotator answers", undone: "cleared", last_24h: "answers last 24 h"};
  const keys = Object.keys(rows[0]).filter((k) => wanted.indexOf(k) >= 0);
  // Seconds print as the server rounded them, not as a 3-decimal rate.
  fillTable(table, keys.map((k) => titles[k] || heading(k)), rows.map((r) => keys.map(
    (k) => (k === "median_seconds_per_answer" && r[k] !== null ? String(r[k]) : cell(k, r[k])))));
}

export function agreement(data) {
  const box = document.getElementById("agreement");
  const a = data.agreement;
  showEmpty(box, !a);
  if (!a) return;
  box.textContent = "";
  const dl = document.createElement("dl");
  // A κ the server left out (too few pairs, or undefined) prints "—" with its reason.
  Object.keys(a).forEach((k) => {
    const v = a[k];
    if ((v !== null && typeof v === "object") || /_(reason|ci)$/.test(k)) return; // shown beside their figure
    const dt = document.createElement("dt"); dt.textContent = heading(k);
    const dd = document.createElement("dd");
    // κ's 95 % bootstrap interval sits beside it ("0.812 (95 % interval 0.741 to 0.869)").
    const ci = a[k + "_ci"];
    dd.textContent = cell(k, v) + (v === null && a[k + "_reason"] ? " (" + a[k + "_reason"] + ")" : "") +
      (v !== null && Array.isArray(ci) ? " (95 % interval " + fmt(ci[0]) + " to " + fmt(ci[1]) + ")" : "");
    dl.appendChild(dt); dl.appendChild(dd);
  });
  box.appendChild(dl);
  const perLabel = a.per_label || a.kappa_per_label;
  if (Array.isArray(perLabel) && perLabel.length) {
    // [{label, kappa, answers, pairs, reason}]: one row per label; "—" where κ has too few pairs
    const keys = Object.keys(perLabel[0]).filter((k) => k !== "label_id" && k !== "reason");
    const table = document.createElement("table");
    table.className = "grid";
    fillTable(table, keys.map(heading), perLabel.map((r) => keys.map((k) => cell(k, r[k]))));
    box.appendChild(table);
    if (perLabel[0].pairs !== undefined) {
      const note = document.createElement("p");
      note.className = "source muted";
      note.textContent = "One-vs-rest κ per label over the pairs in which either annotator chose it; \"—\" below " +
        data.min_n + " such pairs or where κ is undefined.";
      box.appendChild(note);
    }
  } else if (Array.isArray(perLabel)) {
    // No label has pairs yet: say so instead of an empty table (an array is an object too).
    const note = document.createElement("p");
    note.className = "muted";
    note.id = "agreement-per-label-empty";
    note.textContent = "No label has double-labeled pairs yet.";
    box.appendChild(note);
  } else if (perLabel && typeof perLabel === "object" && Object.keys(perLabel).length) {
    // {label: value}: an older shape of the same figure
    const table = document.createElement("table");
    table.className = "grid";
    fillTable(table, ["label", "agreement"], Object.keys(perLabel).map((k) => {
      const v = perLabel[k];
      return [k, typeof v === "number" ? fmt(v) : String(v)];
    }));
    box.appendChild(table);
  }
}
