/* Annotation page: the leased batch arrives as JSON, items render locally, answers go to the
   server in the background (in order, retried with the same client id, so each is stored once).
   User text is only ever set with textContent. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("annotate-config").textContent);
  const $ = (id) => document.getElementById(id);
  const els = {
    startPanel: $("start-panel"), startBtn: $("start-btn"), startMessage: $("start-message"),
    itemPanel: $("item-panel"), itemText: $("item-text"), itemSource: $("item-source"),
    itemPosition: $("item-position"), itemAnswered: $("item-answered"),
    donePanel: $("done-panel"), doneMessage: $("done-message"), nextBtn: $("next-batch-btn"),
    filter: $("label-filter"), buttons: $("label-buttons"), coarseStep: $("coarse-step"),
    coarseName: $("coarse-name"), coarseOnly: $("coarse-only"), coarseBack: $("coarse-back"),
    noneBtn: $("none-btn"), skipBtn: $("skip-btn"), undoBtn: $("undo-btn"),
    skipForm: $("skip-form"), skipOther: $("skip-other"), skipCancel: $("skip-cancel"),
    batchProgress: $("batch-progress"), batchCount: $("batch-count"),
    waveProgress: $("wave-progress"), waveCount: $("wave-count"),
    saveStatus: $("save-status"), notice: $("notice"), keysHelp: $("keys-help"),
  };

  // --- labels -------------------------------------------------------------------------------
  const labels = config.labels;
  const byId = new Map(labels.map((l) => [l.id, l]));
  const children = new Map();
  for (const l of labels) {
    if (l.parent !== null) {
      if (!children.has(l.parent)) children.set(l.parent, []);
      children.get(l.parent).push(l);
    }
  }
  const topLevel = labels.filter((l) => l.parent === null && !l.is_other);
  const otherLabel = labels.find((l) => l.parent === null && l.is_other) || null;
  const key = (k) => (k || "").toLowerCase();
  const fullName = (l) => (l.parent !== null && byId.has(l.parent) ? byId.get(l.parent).name + " › " + l.name : l.name);
  const noneHotkey = otherLabel ? key(otherLabel.hotkey) : (config.builtinOther ? config.builtinOther.hotkey : "");
  const noneHotkeyFree = noneHotkey && !labels.some((l) => key(l.hotkey) === noneHotkey && l !== otherLabel);

  // --- state --------------------------------------------------------------------------------
  let items = [];          // the leased batch, each with .answer = {kind, labelId, reason} once answered
  let index = 0;
  let coarse = null;       // the coarse label whose fine labels are showing
  let progress = config.progress;
  let leaseNote = "";      // why the last lease came back empty
  let started = false;     // a batch was loaded (then an empty item list means "batch done")
  let busy = false;        // a lease or undo round trip is under way
  const outbox = [];       // answers not yet acknowledged by the server, in order
  let pumping = false;
  let flushWaiters = [];
  let halted = false;      // the server refused our session (401/403): keep answers, stop sending

  // --- helpers ------------------------------------------------------------------------------
  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  async function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    });
  }

  async function detailOf(response) {
    try {
      const data = await response.json();
      if (data && data.detail) return String(data.detail);
      return JSON.stringify(data);
    } catch (e) {
      return `HTTP ${response.status}`;
    }
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function notify(message, kind) {
    els.notice.textContent = message;
    els.notice.className = "notice " + (kind || "info");
    els.notice.hidden = !message;
  }

  function setSaveStatus() {
    if (halted) els.saveStatus.textContent = `${outbox.length} answer(s) waiting: sign in again to save them`;
    else if (outbox.length) els.saveStatus.textContent = `Saving ${outbox.length} answer(s)…`;
    else els.saveStatus.textContent = "All answers saved";
    els.saveStatus.dataset.pending = String(outbox.length);
    els.doneMessage.textContent = leaseNote ||
      (outbox.length ? "Your answers are being saved in the background." : "All your answers are saved.");
  }

  // --- sending answers ----------------------------------------------------------------------
  function enqueue(item, payload) {
    outbox.push({ item, payload, tries: 0 });
    setSaveStatus();
    pump();
  }

  async function pump() {
    if (pumping || halted) return;
    pumping = true;
    while (outbox.length && !halted) {
      const job = outbox[0];
      let response = null;
      try {
        response = await post(config.answerUrl, job.payload);
      } catch (e) {
        response = null; // network error: retry below
      }
      if (response && response.ok) {
        const data = await response.json();
        outbox.shift();
        job.item.stored = true;
        if (data.created && progress) progress.done = Math.min(progress.done + 1, progress.needed);
        renderProgress();
      } else if (response && (response.status === 401 || response.status === 403)) {
        halted = true;
        notify("Your session ended, so answers are not being saved. Sign in again in another tab, then press Retry.", "error");
        showRetry();
      } else if (response && response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
        // Refused for good (e.g. the lease expired and someone else took the slot): say so, go on.
        // The item counts as handled so the batch can finish; the notice says what happened.
        outbox.shift();
        const reason = await detailOf(response);
        job.item.answer = { kind: "rejected", reason };
        notify(`Not saved (item ${job.item.item}): ${reason}`, "error");
        render();
      } else {
        job.tries += 1;
        els.saveStatus.textContent = `Saving failed (${response ? "HTTP " + response.status : "network"}), retrying…`;
        await sleep(Math.min(500 * 2 ** Math.min(job.tries, 5), 10000));
      }
      setSaveStatus();
    }
    pumping = false;
    if (!outbox.length) {
      const waiters = flushWaiters;
      flushWaiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }

  function flush() {
    if (!outbox.length) return Promise.resolve();
    return new Promise((resolve) => { flushWaiters.push(resolve); pump(); });
  }

  function showRetry() {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => { halted = false; notify(""); setSaveStatus(); pump(); });
    els.notice.appendChild(document.createTextNode(" "));
    els.notice.appendChild(retry);
  }

  // --- answering ----------------------------------------------------------------------------
  function current() {
    return items[index] || null;
  }

  function answer(kind, labelId, reason) {
    const item = current();
    if (!item || item.answer || busy) return;
    const payload = { client_id: uuid4(), assignment: item.assignment };
    if (kind === "label") payload.label = labelId;
    else if (kind === "none") {
      if (otherLabel) payload.label = otherLabel.id;
      else payload.none_of_these = true;
    } else if (kind === "skip") {
      payload.skipped = true;
      payload.skip_reason = reason;
    }
    item.answer = { kind, labelId, reason };
    enqueue(item, payload);
    if (els.notice.classList.contains("info")) notify(""); // errors stay until read and replaced
    advance();
  }

  function advance() {
    coarse = null;
    els.filter.value = "";
    const next = items.findIndex((it, i) => i > index && !it.answer);
    const anyLeft = items.findIndex((it) => !it.answer);
    if (next >= 0) index = next;
    else if (anyLeft >= 0) index = anyLeft;
    else index = items.length;
    render();
  }

  function pickLabel(label) {
    if (children.has(label.id) && coarse !== label) {
      coarse = label;
      els.filter.value = "";
      renderLabels();
      return;
    }
    answer("label", label.id);
  }

  // --- leasing and undo ---------------------------------------------------------------------
  async function lease() {
    if (busy) return;
    busy = true;
    els.startMessage.textContent = "Leasing…";
    try {
      await flush();
      const response = await post(config.leaseUrl, {});
      if (!response.ok) {
        notify(`Could not lease a batch: ${await detailOf(response)}`, "error");
        return;
      }
      const data = await response.json();
      progress = data.progress;
      loadBatch(data.items);
      leaseNote = data.items.length ? "" : (data.message || "Nothing is waiting for you right now.");
      els.startMessage.textContent = leaseNote;
    } finally {
      busy = false;
      render();
    }
  }

  function loadBatch(batch) {
    items = batch.map((it) => Object.assign({}, it, { answer: null, stored: false }));
    index = 0;
    coarse = null;
    started = items.length > 0;
  }

  async function undo() {
    if (busy) return;
    busy = true;
    try {
      await flush();
      const response = await post(config.undoUrl, {});
      if (response.status === 404) {
        notify("Nothing to undo.", "info");
        return;
      }
      if (!response.ok) {
        notify(`Undo failed: ${await detailOf(response)}`, "error");
        return;
      }
      const undone = await response.json();
      if (progress && !undone.skipped) progress.done = Math.max(progress.done - 1, 0);
      const at = items.findIndex((it) => it.assignment === undone.assignment);
      if (at >= 0) {
        items[at].answer = null;
        items[at].stored = false;
        index = at;
        coarse = null;
        notify(`Undone: your answer on item ${undone.item}.`, "info");
      } else {
        // An answer from an earlier batch: its lease is re-opened, so fetch what we hold now.
        const held = await post(config.leaseUrl, {});
        if (held.ok) {
          const data = await held.json();
          progress = data.progress;
          loadBatch(data.items);
          const back = items.findIndex((it) => it.assignment === undone.assignment);
          if (back >= 0) index = back;
        }
        notify(`Undone: your answer on item ${undone.item} from an earlier batch.`, "info");
      }
    } finally {
      busy = false;
      render();
    }
  }

  // --- rendering ----------------------------------------------------------------------------

  function render() {
    const item = current();
    const finished = started && !item;
    els.startPanel.hidden = started;
    els.itemPanel.hidden = !item;
    els.donePanel.hidden = !finished;
    if (item) renderItem(item);
    renderLabels();
    renderProgress();
    const disabled = !item || busy;
    for (const b of [els.noneBtn, els.skipBtn]) b.disabled = disabled;
    els.undoBtn.disabled = busy;
  }

  function renderItem(item) {
    els.itemText.textContent = item.text;
    els.itemSource.textContent = item.source || "—";
    els.itemPosition.textContent = `Item ${index + 1} of ${items.length}`;
    if (item.answer) {
      els.itemAnswered.hidden = false;
      els.itemAnswered.className = "answered" + (item.answer.kind === "rejected" ? " rejected" : "");
      els.itemAnswered.textContent = describeAnswer(item.answer);
    } else {
      els.itemAnswered.hidden = true;
    }
    if (config.showWhy && item.why) {
      const why = item.why;
      $("why-strategy").textContent = why.strategy + (why.likely_rare ? " · likely rare" : "");
      $("why-reason").textContent = why.reason || "—";
      $("why-prob").textContent = why.inclusion_prob === null ? "—" : why.inclusion_prob.toFixed(3);
      $("why-predicted").textContent = why.predicted_label
        ? `${why.predicted_label}${why.predicted_prob !== null ? " (" + why.predicted_prob.toFixed(2) + ")" : ""}`
        : "no model yet";
      $("why-overlap").textContent = String(why.overlap);
    }
    els.itemText.dataset.item = String(item.item);
  }

  function describeAnswer(a) {
    if (a.kind === "rejected") return `Not stored: ${a.reason}`;
    if (a.kind === "skip") return `Skipped: ${a.reason}`;
    if (a.kind === "none") return "None of these";
    const l = byId.get(a.labelId);
    return l ? `Answered: ${fullName(l)}` : "Answered";
  }

  function visibleLabels() {
    const q = els.filter.value.trim().toLowerCase();
    if (q) return labels.filter((l) => !l.is_other || l.parent !== null).filter((l) => fullName(l).toLowerCase().includes(q));
    if (coarse) return children.get(coarse.id) || [];
    return topLevel;
  }

  function renderLabels() {
    const shown = visibleLabels();
    els.buttons.replaceChildren();
    for (const [i, l] of shown.entries()) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "label-btn" + (i === 0 && els.filter.value.trim() ? " first-match" : "");
      b.dataset.label = String(l.id);
      b.title = l.description || "";
      if (l.hotkey) {
        const k = document.createElement("kbd");
        k.textContent = l.hotkey;
        b.appendChild(k);
        b.appendChild(document.createTextNode(" "));
      }
      b.appendChild(document.createTextNode(els.filter.value.trim() ? fullName(l) : l.name));
      if (children.has(l.id) && !els.filter.value.trim()) {
        const more = document.createElement("span");
        more.className = "muted";
        more.textContent = ` › ${children.get(l.id).length}`;
        b.appendChild(more);
      }
      b.disabled = !current() || busy;
      b.addEventListener("click", () => pickLabel(l));
      els.buttons.appendChild(b);
    }
    if (!shown.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "No label matches.";
      els.buttons.appendChild(p);
    }
    els.coarseStep.hidden = !coarse;
    if (coarse) els.coarseName.textContent = coarse.name;
    els.noneBtn.replaceChildren();
    const name = otherLabel ? otherLabel.name : (config.builtinOther ? config.builtinOther.name : "None of these");
    els.noneBtn.appendChild(document.createTextNode(name + " "));
    if (noneHotkeyFree) {
      const k = document.createElement("kbd");
      k.textContent = noneHotkey;
      els.noneBtn.appendChild(k);
    }
  }

  function renderProgress() {
    const answered = items.filter((it) => it.answer).length;
    els.batchProgress.max = Math.max(items.length, 1);
    els.batchProgress.value = answered;
    els.batchCount.textContent = `${answered} / ${items.length}`;
    if (progress && progress.needed) {
      els.waveProgress.max = progress.needed;
      els.waveProgress.value = progress.done;
      els.waveCount.textContent = `${progress.done} / ${progress.needed} answers (wave ${progress.waves.join(", ")})`;
    } else {
      els.waveProgress.value = 0;
      els.waveCount.textContent = "no open wave";
    }
  }

  // --- skip form ----------------------------------------------------------------------------
  function openSkip() {
    if (!current() || busy) return;
    els.skipForm.hidden = false;
    els.skipForm.reset();
    els.skipForm.querySelector("input[type=radio]").focus();
  }

  function closeSkip() {
    els.skipForm.hidden = true;
    document.activeElement && document.activeElement.blur();
  }

  function submitSkip(reason) {
    reason = (reason || "").trim();
    if (!reason) {
      notify("Pick or type a reason to skip.", "error");
      return;
    }
    closeSkip();
    answer("skip", null, reason);
  }

  els.skipForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const picked = els.skipForm.querySelector("input[name=reason]:checked");
    submitSkip(els.skipOther.value.trim() || (picked ? picked.value : ""));
  });
  els.skipCancel.addEventListener("click", closeSkip);

  // --- keyboard -----------------------------------------------------------------------------
  function hotkeyLabel(k) {
    if (coarse) {
      const fine = (children.get(coarse.id) || []).find((l) => key(l.hotkey) === k);
      if (fine) return fine;
    }
    const top = labels.find((l) => l.parent === null && key(l.hotkey) === k);
    if (top) return top;
    const fine = labels.filter((l) => l.parent !== null && key(l.hotkey) === k);
    return fine.length === 1 ? fine[0] : null;
  }

  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.metaKey || (e.ctrlKey && e.key.toLowerCase() !== "z")) return;
    const target = e.target;
    const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA") && target.type !== "radio";

    if (!els.skipForm.hidden) {
      if (e.key === "Escape") { e.preventDefault(); closeSkip(); return; }
      if (!typing && /^[1-4]$/.test(e.key)) {
        e.preventDefault();
        submitSkip(els.skipForm.querySelectorAll("input[name=reason]")[Number(e.key) - 1].value);
      }
      return;
    }
    if (target === els.filter) {
      if (e.key === "Escape") { e.preventDefault(); els.filter.value = ""; els.filter.blur(); renderLabels(); }
      else if (e.key === "Enter") {
        e.preventDefault();
        const first = visibleLabels()[0];
        if (first) { els.filter.blur(); answer("label", first.id); }
      }
      return;
    }
    if (typing) return;
    if (target && target.tagName === "BUTTON" && (e.key === "Enter" || e.key === " ")) return; // its own click

    if ((e.ctrlKey && e.key.toLowerCase() === "z") || e.key === "Backspace") { e.preventDefault(); undo(); return; }
    if (e.key === "?") { e.preventDefault(); els.keysHelp.open = !els.keysHelp.open; return; }
    if (!current()) {
      if (e.key === "Enter" && !busy) { e.preventDefault(); lease(); }
      return;
    }
    if (e.key === "/") { e.preventDefault(); els.filter.hidden = false; els.filter.focus(); return; }
    if (e.key === "Escape" && coarse) { e.preventDefault(); coarse = null; renderLabels(); return; }
    if (e.key === "Enter" && coarse) { e.preventDefault(); answer("label", coarse.id); return; }
    if (e.key === ".") { e.preventDefault(); openSkip(); return; }
    const k = key(e.key);
    if (k.length !== 1) return;
    const label = hotkeyLabel(k);
    if (label) { e.preventDefault(); pickLabel(label); return; }
    if (noneHotkeyFree && k === noneHotkey) { e.preventDefault(); answer("none"); }
  });

  els.filter.addEventListener("input", () => { coarse = null; renderLabels(); });
  els.startBtn.addEventListener("click", lease);
  els.nextBtn.addEventListener("click", lease);
  els.noneBtn.addEventListener("click", () => answer("none"));
  els.skipBtn.addEventListener("click", openSkip);
  els.undoBtn.addEventListener("click", undo);
  els.coarseOnly.addEventListener("click", () => coarse && answer("label", coarse.id));
  els.coarseBack.addEventListener("click", () => { coarse = null; renderLabels(); });
  window.addEventListener("beforeunload", (e) => {
    if (outbox.length) { e.preventDefault(); e.returnValue = ""; }
  });

  // Keep an open batch ours while someone reads slowly: renew at a third of the lease time.
  setInterval(() => {
    if (items.some((it) => !it.answer) && !halted) post(config.renewUrl, {}).catch(() => {});
  }, Math.max(config.leaseSeconds / 3, 10) * 1000);

  // A batch still held from an earlier visit shows at once.
  if (config.batch.length) loadBatch(config.batch);
  setSaveStatus();
  render();
})();
