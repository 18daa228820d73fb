/* Project dashboard: fetches /api/projects/<slug>/dashboard/ and draws it with Chart.js (vendored).
   All text from the server goes in through textContent. */
(function () {
  "use strict";
  const root = document.getElementById("dashboard");
  if (!root) return;
  const RARE = "#c2410c";
  const PALETTE = ["#2f5bd3", "#15803d", "#7c3aed", "#0891b2", "#be185d", "#65a30d", "#ca8a04", "#475569",
                   "#dc2626", "#0d9488", "#9333ea", "#2563eb"];
  const charts = {};

  const COUNT_KEY = /(count|answers|skips|undone|last_24h|support|pairs|items|labeled|^n$|_n$)/;
  function fmt(x, digits) {
    if (x === null || x === undefined) return "—";
    return Number(x).toFixed(digits === undefined ? 3 : digits);
  }
  // A table cell by its column name: counts as integers, other numbers with 3 decimals.
  function cell(key, v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number") return COUNT_KEY.test(key) ? String(Math.round(v * 100) / 100) : fmt(v);
    return String(v);
  }
  function section(el) { return el.closest("section"); }
  function empty(el, isEmpty) {
    const sec = section(el);
    const note = sec.querySelector(".empty");
    if (note) note.hidden = !isEmpty;
    el.hidden = isEmpty;
  }
  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), config);
  }
  function fillTable(table, headers, rows) {
    const thead = table.tHead || table.createTHead();
    if (headers) {
      thead.textContent = "";
      const tr = thead.insertRow();
      headers.forEach(function (h) { const th = document.createElement("th"); th.textContent = h; tr.appendChild(th); });
    }
    const body = table.tBodies[0] || table.createTBody();
    body.textContent = "";
    rows.forEach(function (cells) {
      const tr = body.insertRow();
      cells.forEach(function (c) {
        const td = tr.insertCell();
        if (c && typeof c === "object") { td.textContent = c.text; if (c.cls) td.className = c.cls; }
        else td.textContent = c;
      });
    });
  }

  function labeledPerWave(data) {
    const canvas = document.getElementById("chart-waves");
    const rare = new Set(data.labels.filter(function (l) { return l.rare; }).map(function (l) { return l.name; }));
    const waves = data.labeled_per_wave.waves;
    empty(canvas, !waves.length);
    if (!waves.length) return;
    const names = Object.keys(data.labeled_per_wave.series);
    draw("chart-waves", {
      type: "bar",
      data: {labels: waves, datasets: names.map(function (name, i) {
        // Every label keeps its own colour; rare ones get a ★ and a thick orange outline.
        return {label: (rare.has(name) ? "★ " : "") + name + (rare.has(name) ? " (rare)" : ""),
                data: data.labeled_per_wave.series[name], backgroundColor: PALETTE[i % PALETTE.length],
                borderColor: rare.has(name) ? RARE : "#fff", borderWidth: rare.has(name) ? 3 : 1};
      })},
      options: {animation: false, responsive: true, scales: {x: {stacked: true}, y: {stacked: true, title: {display: true, text: "items labeled"}}},
                plugins: {legend: {labels: {boxWidth: 10}}}},
    });
  }

  function learningCurve(data) {
    const canvas = document.getElementById("chart-curve");
    const pts = data.learning_curve;
    empty(canvas, !pts.length);
    if (!pts.length) return;
    draw("chart-curve", {
      type: "line",
      data: {labels: pts.map(function (p) { return "v" + p.version + " (" + p.train_size + ")"; }),
             datasets: [{label: "macro-F1", data: pts.map(function (p) { return p.macro_f1; }), borderColor: PALETTE[0],
                         backgroundColor: PALETTE[0], pointRadius: 5, clip: false},
                        {label: "rare-label recall", data: pts.map(function (p) { return p.rare_recall; }), borderColor: RARE,
                         backgroundColor: RARE, pointRadius: 5, pointStyle: "triangle", clip: false}]},
      options: {animation: false, scales: {y: {min: 0, max: 1}, x: {title: {display: true, text: "model version (training labels)"}}}},
    });
  }

  function perClass(data) {
    const table = document.getElementById("per-class");
    const rare = new Set(data.labels.filter(function (l) { return l.rare; }).map(function (l) { return l.name; }));
    empty(table, !data.per_class.length);
    document.getElementById("model-caption").textContent = data.model ? "model v" + data.model.number + " (" + data.model.state + ")" : "";
    fillTable(table, null, data.per_class.map(function (r) {
      return [{text: r.label, cls: rare.has(r.label) ? "rare" : ""}, fmt(r.precision), fmt(r.recall), fmt(r.f1),
              fmt(r.support, 0), fmt(r.average_precision)];
    }));
  }

  function confusion(data) {
    const table = document.getElementById("confusion");
    const c = data.confusion;
    empty(table, !c);
    if (!c) return;
    table.textContent = "";
    let max = 0;
    c.matrix.forEach(function (row) { row.forEach(function (v) { max = Math.max(max, v); }); });
    const head = table.createTHead().insertRow();
    const corner = document.createElement("th"); corner.textContent = "true ↓ / predicted →"; head.appendChild(corner);
    c.classes.forEach(function (name) { const th = document.createElement("th"); th.textContent = name; th.className = "rot"; head.appendChild(th); });
    const body = table.createTBody();
    c.matrix.forEach(function (row, i) {
      const tr = body.insertRow();
      const th = document.createElement("th"); th.textContent = c.classes[i]; tr.appendChild(th);
      row.forEach(function (v, j) {
        const td = tr.insertCell();
        td.textContent = v;
        const alpha = max ? v / max : 0;
        td.style.background = (i === j ? "rgba(21,128,61," : "rgba(185,28,28,") + (0.08 + 0.85 * alpha).toFixed(2) + ")";
        if (alpha > 0.55) td.style.color = "#fff";
        td.title = c.classes[i] + " → " + c.classes[j] + ": " + v;
      });
    });
  }

  function prCurves(data) {
    const canvas = document.getElementById("chart-pr");
    const select = document.getElementById("pr-labels");
    const curves = data.pr_curves.curves || {};
    const names = Object.keys(curves);
    document.getElementById("pr-source").textContent = data.pr_curves.source ? "Source: " + data.pr_curves.source : "";
    empty(canvas, !names.length);
    select.hidden = !names.length;
    if (!names.length) return;
    select.textContent = "";
    const rare = new Set(data.labels.filter(function (l) { return l.rare; }).map(function (l) { return l.name; }));
    names.forEach(function (name, i) {
      const opt = document.createElement("option");
      opt.value = name; opt.textContent = name + (rare.has(name) ? " (rare)" : "");
      opt.selected = i < 3 || rare.has(name) && i < 8;
      select.appendChild(opt);
    });
    const redraw = function () {
      const chosen = Array.from(select.selectedOptions).map(function (o) { return o.value; });
      draw("chart-pr", {
        type: "scatter",
        data: {datasets: chosen.map(function (name, i) {
          const c = curves[name];
          return {label: name + " (AP " + fmt(c.average_precision, 2) + ")", showLine: true, pointRadius: 0, clip: false,
                  borderColor: rare.has(name) ? RARE : PALETTE[i % PALETTE.length],
                  data: c.recall.map(function (r, k) { return {x: r, y: c.precision[k]}; })};
        })},
        options: {animation: false, scales: {x: {min: 0, max: 1, title: {display: true, text: "recall"}},
                                             y: {min: 0, max: 1, title: {display: true, text: "precision"}}}},
      });
    };
    select.onchange = redraw;
    redraw();
  }

  function reliability(data) {
    const canvas = document.getElementById("chart-reliability");
    const bins = Array.isArray(data.reliability.bins) ? data.reliability.bins : [];
    const rel = document.getElementById("rel-source");
    const cal = data.model && data.model.calibration;
    rel.textContent = (data.reliability.source ? "Source: " + data.reliability.source + (data.reliability.ece !== null ? " · ECE " + fmt(data.reliability.ece) : "") : "") +
      (cal && cal.ece_before !== null && cal.ece_before !== undefined ? " · validation ECE " + fmt(cal.ece_before) + " before → " + fmt(cal.ece_after) + " after " + cal.method + " scaling" : "");
    const used = bins.filter(function (b) { return b.count; });
    empty(canvas, !used.length);
    if (!used.length) return;
    draw("chart-reliability", {
      type: "scatter",
      data: {datasets: [
        {label: "perfect calibration", data: [{x: 0, y: 0}, {x: 1, y: 1}], showLine: true, pointRadius: 0, borderColor: "#94a3b8", borderDash: [4, 4]},
        {label: "accuracy per confidence bin", data: used.map(function (b) { return {x: b.confidence, y: b.accuracy}; }),
         showLine: true, borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: 5, clip: false},
      ]},
      options: {animation: false, scales: {x: {min: 0, max: 1, title: {display: true, text: "confidence"}},
                                           y: {min: 0, max: 1, title: {display: true, text: "accuracy"}}}},
    });
  }

  function thresholds(data) {
    const table = document.getElementById("thresholds");
    const rows = data.thresholds.rows || [];
    document.getElementById("thr-source").textContent = data.thresholds.source ? "Source: " + data.thresholds.source : "";
    empty(table, !rows.length);
    if (!rows.length) return;
    const keys = Object.keys(rows[0]);
    fillTable(table, keys.map(function (k) { return k.replace(/_/g, " "); }), rows.map(function (r) {
      return keys.map(function (k) { return cell(k, r[k]); });
    }));
  }

  function throughput(data) {
    const table = document.getElementById("throughput");
    const rows = data.throughput || [];
    empty(table, !rows.length);
    if (!rows.length) return;
    const wanted = ["username", "role", "answers", "skips", "undone", "last_24h", "median_seconds_per_answer",
                    "agreement_with_others"];
    const keys = Object.keys(rows[0]).filter(function (k) { return wanted.indexOf(k) >= 0; });
    fillTable(table, keys.map(function (k) { return k.replace(/_/g, " "); }), rows.map(function (r) {
      return keys.map(function (k) { return k === "median_seconds_per_answer" && r[k] !== null ? String(r[k]) : cell(k, r[k]); });
    }));
  }

  function agreement(data) {
    const box = document.getElementById("agreement");
    const a = data.agreement;
    empty(box, !a);
    if (!a) return;
    box.textContent = "";
    const dl = document.createElement("dl");
    Object.keys(a).forEach(function (k) {
      const v = a[k];
      if (v !== null && typeof v === "object") return;
      const dt = document.createElement("dt"); dt.textContent = k.replace(/_/g, " ");
      const dd = document.createElement("dd"); dd.textContent = cell(k, v);
      dl.appendChild(dt); dl.appendChild(dd);
    });
    box.appendChild(dl);
    const perLabel = a.per_label || a.kappa_per_label;
    if (Array.isArray(perLabel) && perLabel.length) {
      // [{label, kappa, answers, …}]: one row per label
      const keys = Object.keys(perLabel[0]).filter(function (k) { return k !== "label_id"; });
      const table = document.createElement("table");
      table.className = "grid";
      fillTable(table, keys.map(function (k) { return k.replace(/_/g, " "); }), perLabel.map(function (r) {
        return keys.map(function (k) { return cell(k, r[k]); });
      }));
      box.appendChild(table);
    } else if (perLabel && typeof perLabel === "object") {
      const table = document.createElement("table");
      table.className = "grid";
      fillTable(table, ["label", "agreement"], Object.keys(perLabel).map(function (k) {
        const v = perLabel[k];
        return [k, typeof v === "number" ? fmt(v) : String(v)];
      }));
      box.appendChild(table);
    }
  }

  fetch(root.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function (data) {
      document.getElementById("dash-status").textContent = data.model
        ? (data.model.notes || []).join(" ")
        : "No trained model yet: model charts appear after the first training.";
      [labeledPerWave, learningCurve, perClass, confusion, prCurves, reliability, thresholds, throughput, agreement]
        .forEach(function (f) { try { f(data); } catch (err) { console.warn(f.name, err); } });
    })
    .catch(function (err) { document.getElementById("dash-status").textContent = "Could not load the dashboard: " + err.message; });
})();
