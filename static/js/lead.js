/* Lead pages: live quota total, labels' parent lists, rule preview, task polling (stage, time, live-run buttons), confirm
   dialogs for destructive actions, export options.
   User text is always inserted with textContent, never innerHTML. */
(function () {
  "use strict";

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // --- sources: running total of the quotas (the server checks it again on save) -------------
  const total = document.getElementById("quota-total");
  if (total) {
    const form = document.getElementById("sources-form");
    const tolerance = parseFloat(total.dataset.tolerance || "0.01");
    const update = function () {
      let sum = 0;
      form.querySelectorAll("tbody tr").forEach(function (row) {
        const quota = row.querySelector("input[name$='-quota']");
        const del = row.querySelector("input[name$='-DELETE']");
        const name = row.querySelector("input[name$='-name']");
        if (!quota || (del && del.checked) || (name && !name.value.trim() && !quota.value)) return;
        sum += parseFloat(quota.value || "0") || 0;
      });
      total.textContent = sum.toFixed(3) + (Math.abs(sum - 1) > tolerance ? " — must add up to 1.0" : " ✓");
      total.className = Math.abs(sum - 1) > tolerance ? "error" : "ok";
    };
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  // --- rules: preview how many pool items match -------------------------------------------------
  const previewButton = document.getElementById("rule-preview");
  if (previewButton) {
    const form = document.getElementById("rule-form");
    const out = document.getElementById("rule-preview-result");
    previewButton.addEventListener("click", function () {
      out.textContent = "Counting matches…";
      fetch(form.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
        body: JSON.stringify({kind: form.elements.kind.value, pattern: form.elements.pattern.value}),
      }).then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
        .then(function (res) {
          out.textContent = "";
          if (!res.ok) {
            const p = document.createElement("p");
            p.className = "error";
            p.textContent = Object.values(res.body).flat().join(" ");
            out.appendChild(p);
            return;
          }
          const b = res.body;
          const p = document.createElement("p");
          p.id = "rule-preview-count";
          p.textContent = b.matches + " of " + b.scanned + " pool items match (" + (100 * b.share).toFixed(1) + " %).";
          out.appendChild(p);
          if (b.partial) {
            const note = document.createElement("p");
            note.id = "rule-preview-partial";
            note.className = "warning";
            note.textContent = b.message;
            out.appendChild(note);
          }
          if (b.examples.length) {
            const ul = document.createElement("ul");
            b.examples.forEach(function (ex) {
              const li = document.createElement("li");
              li.textContent = ex.text;
              ul.appendChild(li);
            });
            out.appendChild(ul);
          }
        })
        .catch(function (err) { out.textContent = "Preview failed: " + err; });
    });
  }

  // --- waves page: poll task state and wave progress ---------------------------------------------
  const tasks = document.getElementById("tasks");
  if (tasks && tasks.dataset.pollUrl) {
    let wasLive = tasks.dataset.live === "1";
    const liveNote = document.getElementById("live-run");
    const seconds = function (s) { return s === null || s === undefined ? "" : Math.round(s) + " s"; };
    // The wave this page was drawn for (the close form carries its number; a planned one has the Open
    // button). The poll answers with the wave current now: after another lead closes or opens a wave,
    // its numbers under this page's "Wave N" heading would describe another wave.
    const pageWaveInput = document.querySelector("#close-form input[name=wave]");
    const pageWave = pageWaveInput ? {number: Number(pageWaveInput.value),
                                      state: document.getElementById("open-wave") ? "planned" : "open"} : null;
    let waveChanged = false;
    const sameWave = function (wave) {
      if (!wave || !pageWave) return !wave && !pageWave;
      return wave.number === pageWave.number && (wave.state === "planned") === (pageWave.state === "planned");
    };
    const sayWaveChanged = function (wave) {
      waveChanged = true;
      const summary = document.getElementById("wave-summary");
      if (!summary) return;
      const was = pageWave ? "Wave " + pageWave.number + " (" + pageWave.state + ")" : "No wave was open";
      const now = wave ? "wave " + wave.number + " is " + wave.state + " now" : "no wave is open or planned now";
      summary.textContent = was + " when this page loaded; " + now +
        " (another lead closed, opened or planned a wave). Reload the page to see it. ";
      summary.className = "error-box";
      summary.setAttribute("role", "status");
      const reload = document.createElement("button");
      reload.type = "button"; reload.id = "wave-reload"; reload.textContent = "Reload";
      reload.addEventListener("click", function () { window.location.reload(); });
      summary.appendChild(reload);
      const bar = document.getElementById("wave-progress");
      if (bar) bar.hidden = true;
      // Their forms name this page's wave: the server would refuse them as stale, so they wait for the reload.
      ["close-wave", "close-retrain", "open-wave"].forEach(function (id) {
        const control = document.getElementById(id);
        if (control) { control.disabled = true; control.title = "The wave changed: reload the page"; }
      });
    };
    const render = function (data) {
      const body = tasks.querySelector("tbody");
      body.textContent = "";
      if (!data.tasks.length) {
        const tr = body.insertRow();
        const td = tr.insertCell();
        td.colSpan = 6; td.className = "muted"; td.textContent = "No tasks yet.";
      }
      data.tasks.forEach(function (t) {
        const tr = body.insertRow();
        tr.dataset.state = t.state;
        tr.insertCell().textContent = t.kind;
        tr.insertCell().textContent = t.state;
        const stage = tr.insertCell();
        stage.className = "stage"; stage.textContent = t.stage;
        const bar = document.createElement("progress");
        bar.max = 1; bar.value = t.progress;
        tr.insertCell().appendChild(bar);
        const time = tr.insertCell();
        time.className = "elapsed"; time.textContent = seconds(t.elapsed_s);
        tr.insertCell().textContent = t.message;
      });
      if (!waveChanged && !sameWave(data.wave)) sayWaveChanged(data.wave);
      if (data.wave && !waveChanged) {
        const done = document.getElementById("wave-done");
        const totalCell = document.getElementById("wave-total");
        const bar = document.getElementById("wave-progress");
        if (done) done.textContent = data.wave.progress.done;
        if (totalCell) totalCell.textContent = data.wave.progress.total;
        if (bar) bar.value = data.wave.progress.share;
      }
      const live = data.tasks.find(function (t) {
        return t.kind === "retrain" && (t.state === "pending" || t.state === "running");
      });
      document.querySelectorAll("[data-live-disable]").forEach(function (button) { button.disabled = !!live; });
      if (liveNote) {
        liveNote.hidden = !live;
        liveNote.textContent = live ? "Retrain under way: " + live.stage + ", " + seconds(live.elapsed_s) +
          " so far. It plans and opens the next wave when it finishes." : "";
      }
      if (wasLive && !live) { window.location.reload(); return; }  // show the wave it planned
      wasLive = !!live;
      const busy = data.tasks.some(function (t) { return t.state === "pending" || t.state === "running"; });
      setTimeout(poll, busy ? 1500 : 10000);
    };
    const poll = function () {
      fetch(tasks.dataset.pollUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); }).then(render)
        .catch(function () { setTimeout(poll, 15000); });
    };
    setTimeout(poll, wasLive ? 500 : 1000);
  }

  // --- labels: a row's parent list is filled from the page's one list when the lead opens it ------
  // (the server sends each row only its current parent: a full list per row made the page quadratic)
  function fillParentChoices(select) {
    if (select.dataset.filled) return;
    const source = document.getElementById(select.dataset.parentChoices);
    if (!source) return;
    select.dataset.filled = "1";
    const current = select.value;
    const own = select.dataset.rowLabel || "";
    const kept = Array.prototype.filter.call(select.options, function (option) { return !option.value; });
    const choices = Array.prototype.filter.call(source.content.children, function (option) {
      return option.value !== own;  // a label is never its own parent
    }).map(function (option) { return option.cloneNode(true); });
    if (current && !choices.some(function (option) { return option.value === current; })) {
      choices.push(select.querySelector("option[value='" + CSS.escape(current) + "']").cloneNode(true));
    }
    select.replaceChildren.apply(select, kept.concat(choices));
    select.value = current;
  }
  ["focusin", "pointerdown", "mousedown"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      const select = e.target.closest && e.target.closest("select[data-parent-choices]");
      if (select) fillParentChoices(select);
    }, true);
  });

  // --- destructive actions ask first; long actions say they are working ---------------------------
  // A name with right-to-left letters or direction controls, set into the question as one isolated run
  // (FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE, as the templates' isolate filter): a right-to-left
  // override in a label's name then reverses the name, not the rest of the question.
  const NEEDS_ISOLATION = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u202a-\u202e\u2066-\u2069]/;
  function isolated(text) {
    if (!NEEDS_ISOLATION.test(text)) return text;
    let open = 0, kept = "";
    for (const c of text) {  // a pop closing no isolate of the name's own would close the wrapper: dropped
      if (c === "\u2066" || c === "\u2067" || c === "\u2068") open += 1;
      else if (c === "\u2069") { if (!open) continue; open -= 1; }
      kept += c;
    }
    return "\u2068" + kept + "\u2069".repeat(open + 1);
  }
  document.addEventListener("submit", function (e) {
    const form = e.target;
    let question = form.dataset.confirm || "";
    const ticked = Array.prototype.filter.call(form.querySelectorAll("input[name$='-DELETE']"),
                                               function (box) { return box.checked; });
    if (ticked.length) {
      const names = ticked.map(function (box) {
        const name = box.closest("tr") && box.closest("tr").querySelector("input[name$='-name']");
        return name ? isolated(name.value) : "";
      }).filter(Boolean);
      const things = form.dataset.things || "";
      question = "Delete " + ticked.length + (things ? " " + (ticked.length === 1 ? things.replace(/s$/, "") : things) : "") +
        (names.length ? " (" + names.join(", ") + ")" : "") + "? This cannot be undone.";
    }
    if (question && !window.confirm(question)) { e.preventDefault(); return; }
    if (form.dataset.busyText) {
      const button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; button.textContent = form.dataset.busyText; }
    }
  });

  // --- export: the options travel with the download links -----------------------------------------
  const dup = document.getElementById("include-duplicates");
  const formulas = document.getElementById("neutralise-formulas");
  if (dup && formulas) {
    const links = document.querySelectorAll("a[id^=download-]:not(#download-model)");
    links.forEach(function (a) { a.dataset.base = a.getAttribute("href"); });
    const update = function () {
      const query = [];
      if (dup.checked) query.push("include_duplicates=1");
      if (!formulas.checked) query.push("neutralise_formulas=0");
      links.forEach(function (a) {
        a.setAttribute("href", a.dataset.base + (query.length ? "?" + query.join("&") : ""));
      });
    };
    dup.addEventListener("change", update);
    formulas.addEventListener("change", update);
  }
})();
