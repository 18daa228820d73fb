/* Drawing the annotation page from the state: the item, the label buttons, progress bars and
   the notice line. Rendering only reads state; clicks are handled by delegation in main.js, so
   this module needs nothing from the modules that change state. User text is only ever set
   with textContent. */
import { $, byId, children, config, current, els, fullName, labels, noneHotkey, noneHotkeyFree, otherLabel,
  state, topLevel } from "./state.js";

export function notify(message, kind) {
  els.notice.textContent = message;
  els.notice.className = "notice " + (kind || "info");
  els.notice.hidden = !message;
}

export function render() {
  const item = current();
  const finished = state.started && !item;
  els.startPanel.hidden = state.started;
  els.itemPanel.hidden = !item;
  els.donePanel.hidden = !finished;
  if (item) renderItem(item);
  renderLabels();
  renderProgress();
  const disabled = !item || state.busy;
  for (const b of [els.noneBtn, els.skipBtn]) b.disabled = disabled;
  els.undoBtn.disabled = state.busy;
}

function renderItem(item) {
  els.itemText.textContent = item.text;
  els.itemSource.textContent = item.source || "—";
  els.itemPosition.textContent = `Item ${state.index + 1} of ${state.items.length}`;
  if (item.answer) {
    els.itemAnswered.hidden = false;
    els.itemAnswered.className = "answered" + (item.answer.kind === "rejected" ? " rejected" : "");
    els.itemAnswered.textContent = describeAnswer(item.answer);
  } else {
    els.itemAnswered.hidden = true;
  }
  // Only leads get the "why this item" panel (the template leaves it out for annotators).
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

// What the label area offers now: filter matches (any depth), a coarse label's fine labels, or
// the top level. The keyboard's Enter-in-filter picks the first of these, so it is shared.
export function visibleLabels() {
  const q = els.filter.value.trim().toLowerCase();
  if (q) return labels.filter((l) => !l.is_other || l.parent !== null).filter((l) => fullName(l).toLowerCase().includes(q));
  if (state.coarse) return children.get(state.coarse.id) || [];
  return topLevel;
}

export function renderLabels() {
  const shown = visibleLabels();
  const filtering = Boolean(els.filter.value.trim());
  els.buttons.replaceChildren();
  for (const [i, l] of shown.entries()) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "label-btn" + (i === 0 && filtering ? " first-match" : "");
    b.dataset.label = String(l.id);
    b.title = l.description || "";
    if (l.hotkey) {
      const k = document.createElement("kbd");
      k.textContent = l.hotkey;
      b.appendChild(k);
      b.appendChild(document.createTextNode(" "));
    }
    b.appendChild(document.createTextNode(filtering ? fullName(l) : l.name));
    if (children.has(l.id) && !filtering) {
      const more = document.createElement("span");
      more.className = "muted";
      more.textContent = ` › ${children.get(l.id).length}`;
      b.appendChild(more);
    }
    b.disabled = !current() || state.busy;
    els.buttons.appendChild(b);
  }
  if (!shown.length) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "No label matches.";
    els.buttons.appendChild(p);
  }
  els.coarseStep.hidden = !state.coarse;
  if (state.coarse) els.coarseName.textContent = state.coarse.name;
  els.noneBtn.replaceChildren();
  const name = otherLabel ? otherLabel.name : (config.builtinOther ? config.builtinOther.name : "None of these");
  els.noneBtn.appendChild(document.createTextNode(name + " "));
  if (noneHotkeyFree) {
    const k = document.createElement("kbd");
    k.textContent = noneHotkey;
    els.noneBtn.appendChild(k);
  }
}

export function renderProgress() {
  const { items, progress } = state;
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
