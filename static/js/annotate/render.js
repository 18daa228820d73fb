/* Drawing the annotation page from the state: the item (or a reopened answer), rule highlights,
   metadata, the suggestion, the label buttons, progress, the batch summary and the history.
   Rendering only reads state; clicks are handled by delegation in main.js. User text is only
   ever set with textContent or as text nodes, never as markup; inside a sentence it sits in a
   <bdi>, so a name with right-to-left text (or a stray direction mark) keeps to itself. */
import { describeAnswer, noneName, renderHistory } from "./history.js";
import { foldForMatch, nameMatches } from "./label_filter.js";
import { goneCount, isGone } from "./stale_labels.js";
import { $, byId, children, config, current, els, fullName, labels, labelsGeneration, noneHotkey, noneHotkeyFree,
  otherLabel, shown, state, topLevel } from "./state.js";

// User text (a label name, a reason) as an isolated piece of a sentence.
export function bdi(text) {
  const b = document.createElement("bdi");
  b.textContent = text;
  return b;
}

// message: a string, or a list of strings and nodes (user text as bdi()).
export function notify(message, kind) {
  const parts = Array.isArray(message) ? message : [message];
  els.notice.replaceChildren(...parts);
  els.notice.className = "notice " + (kind || "info");
  els.notice.hidden = !els.notice.textContent;
}

// A polite announcement for screen readers (visually hidden): what an answer did, where the
// page is now. The visible page says the same with its position, progress and history.
export function announce(message) {
  els.announce.textContent = message;
}

// "coarse › fine" (or the label's own name) as isolated pieces: one name's direction never
// reverses the other or the text after them.
function labelNodes(l, full) {
  if (!full || l.parent === null || !byId.has(l.parent)) return [bdi(l.name)];
  return [bdi(byId.get(l.parent).name), " › ", bdi(l.name)];
}

export function render() {
  const item = shown();
  const finished = state.started && !current() && !state.reopen;
  els.startPanel.hidden = state.started || Boolean(state.reopen);
  els.itemPanel.hidden = !item;
  els.donePanel.hidden = !finished;
  if (item) renderItem(item);
  if (finished) renderSummary();
  renderLabels();
  renderProgress();
  const disabled = !item;
  for (const b of [els.noneBtn, els.skipBtn]) b.disabled = disabled;
  if (otherLabel && isGone(otherLabel.id)) els.noneBtn.disabled = true;
  els.undoBtn.disabled = !state.history.length && !state.reopen;
  els.undoBtn.querySelector(".undo-text").textContent = state.reopen ? "Older answer" : "Reopen last";
}

let drawnText = null; // the item whose text is on screen: keep its scroll position across renders

function renderItem(item) {
  const reopened = item === state.reopen;
  const textKey = `${reopened ? "r" : "c"}:${item.item}:${item.assignment}`;
  if (drawnText !== textKey) {
    const next = drawnText !== null;
    drawText(item.text, item.highlights || []);
    els.itemText.scrollTop = 0;
    drawnText = textKey;
    // A coarse key or the filter may have scrolled the window down to the labels (one column on a
    // phone or at 200 % zoom): a new item starts on screen, or the next key answers unread text.
    if (next && els.itemPosition.getBoundingClientRect().top < 0) els.itemPosition.scrollIntoView({ block: "start" });
  }
  // The server's highlighting ran out of time (a slow rule): the item says its highlights are missing.
  els.highlightsNote.hidden = !item.highlights_cut;
  els.highlightsNote.textContent = item.highlights_cut ? item.highlights_note || "Rule highlights were cut short." : "";
  els.itemSource.textContent = item.source || "—";
  els.itemPosition.textContent = reopened ? `Item ${item.item} (reopened)`
    : `Item ${state.index + 1} of ${state.items.length}`;
  els.reopenBanner.hidden = !reopened;
  if (reopened) els.reopenWas.textContent = describeAnswer(item.answer);
  const answered = !reopened && item.answer;
  els.itemAnswered.hidden = !answered;
  if (answered) {
    els.itemAnswered.className = "answered" + (item.answer.kind === "rejected" ? " rejected" : "");
    els.itemAnswered.textContent = describeAnswer(item.answer);
  }
  renderMetadata(item.metadata || []);
  const s = config.suggestions && !reopened ? item.suggestion : null;
  els.suggestion.hidden = !s;
  if (s) {
    els.suggestionLabel.textContent = byId.has(s.label) ? fullName(byId.get(s.label)) : s.label_name;
    els.suggestionProb.textContent = s.prob.toFixed(2);
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
  if ($("item-why")) $("item-why").hidden = reopened || !item.why;
  els.itemText.dataset.item = String(item.item);
}

// The text as text nodes, with the rules' matches in <mark> (spans are code-point offsets).
function drawText(text, spans) {
  els.itemText.replaceChildren();
  if (!spans.length) {
    els.itemText.textContent = text;
    return;
  }
  const cps = Array.from(text || "");
  let at = 0;
  for (const [start, end, label] of spans) {
    if (start < at || end > cps.length) continue;
    if (start > at) els.itemText.appendChild(document.createTextNode(cps.slice(at, start).join("")));
    const mark = document.createElement("mark");
    mark.className = "rule-hit";
    mark.title = `Rule for ${label}`;
    mark.textContent = cps.slice(start, end).join("");
    els.itemText.appendChild(mark);
    at = end;
  }
  if (at < cps.length) els.itemText.appendChild(document.createTextNode(cps.slice(at).join("")));
}

function renderMetadata(rows) {
  els.itemMeta.replaceChildren();
  els.itemMeta.hidden = !rows.length;
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    els.itemMeta.appendChild(dt);
    els.itemMeta.appendChild(dd);
  }
}

// Batch end: how many answered, how many skipped, and the answers by label.
function renderSummary() {
  const counts = new Map();
  let answered = 0;
  let skipped = 0;
  let refused = 0;
  for (const it of state.items) {
    if (!it.answer) continue;
    if (it.answer.kind === "skip") skipped += 1;
    else if (it.answer.kind === "rejected") refused += 1;
    else {
      answered += 1;
      const name = describeAnswer(it.answer);
      counts.set(name, (counts.get(name) || 0) + 1);
    }
  }
  els.summary.replaceChildren();
  const head = document.createElement("p");
  head.id = "summary-counts";
  head.textContent = `${answered} answered · ${skipped} skipped` + (refused ? ` · ${refused} not stored` : "");
  els.summary.appendChild(head);
  const ul = document.createElement("ul");
  ul.className = "summary-labels";
  for (const [name, n] of [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    const li = document.createElement("li");
    li.append(bdi(name), `: ${n}`);
    ul.appendChild(li);
  }
  els.summary.appendChild(ul);
}

// What the label area offers now: filter matches (any depth), a coarse label's fine labels, or
// the top level. The keyboard's Enter-in-filter picks the first of these, so it is shared.
export function visibleLabels() {
  const q = foldForMatch(els.filter.value);
  if (q) return labels.filter((l) => !l.is_other || l.parent !== null).filter((l) => nameMatches(fullName(l), q));
  if (state.coarse) return children.get(state.coarse.id) || [];
  return topLevel;
}

// A click that lands within SETTLE_MS of another item coming up was aimed at the item before it
// (a quick second click after the buttons were redrawn under the pointer): the answering buttons
// wait that long before they take one. They say so with aria-disabled, not disabled, so they do
// not flash grey on every item; main.js drops the clicks.
const SETTLE_MS = 300;
let settledFor = null; // the item the buttons were drawn for (as drawnText keys it)
let shownAt = -Infinity;
let settleTimer = null;

export function settling() {
  return performance.now() - shownAt < SETTLE_MS;
}

// The persistent buttons that answer the item on screen (the label buttons are redrawn below).
const answerControls = () => [els.noneBtn, els.coarseOnly, els.suggestion.querySelector("button")];

function markSettling(on) {
  for (const b of [...els.buttons.querySelectorAll("button.label-btn"), ...answerControls()]) {
    if (on) b.setAttribute("aria-disabled", "true");
    else b.removeAttribute("aria-disabled");
  }
}

function noteShownItem() {
  const item = shown();
  const itemKey = item ? `${item === state.reopen ? "r" : "c"}:${item.item}:${item.assignment}` : null;
  if (itemKey === settledFor) return;
  settledFor = itemKey;
  if (!item) return;
  shownAt = performance.now();
  clearTimeout(settleTimer);
  settleTimer = setTimeout(() => markSettling(false), SETTLE_MS);
}

// Which list the label area shows (the filter's text, the open coarse label): a new list starts at
// its top. The list keeps its scroll position only while it shows the same labels (a redraw after
// an answer), else the scroll left by Tab or the wheel in a longer list would hide the first match
// that Enter stores.
let drawnList = null;

export function renderLabels() {
  noteShownItem();
  renderLabelHelp();
  const visible = visibleLabels();
  const query = foldForMatch(els.filter.value);
  const filtering = Boolean(query);
  const list = `${query}|${state.coarse ? state.coarse.id : ""}`;
  const newList = list !== drawnList;
  drawnList = list;
  els.buttons.replaceChildren();
  for (const [i, l] of visible.entries()) {
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
    b.append(...labelNodes(l, filtering));
    if (children.has(l.id) && !filtering) {
      const more = document.createElement("span");
      more.className = "muted";
      more.textContent = ` › ${children.get(l.id).length}`;
      b.appendChild(more);
    }
    b.disabled = !shown() || isGone(l.id);
    if (isGone(l.id)) {
      // Removed by a lead after the page loaded: shown (so the keys do not shift) but not usable.
      b.classList.add("gone");
      b.title = "No longer a label of this project: reload the page";
    }
    els.buttons.appendChild(b);
  }
  markSettling(settling());
  if (!visible.length) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "No label matches.";
    els.buttons.appendChild(p);
  }
  els.coarseStep.hidden = !state.coarse;
  if (state.coarse) els.coarseName.textContent = state.coarse.name;
  if (newList) {
    els.buttons.scrollTop = 0;
    // The highlighted match is the one Enter stores: in view on the page too (a phone, a zoomed page).
    const first = els.buttons.querySelector("button.first-match");
    if (first) first.scrollIntoView({ block: "nearest" });
  }
  els.noneBtn.replaceChildren();
  const name = noneName(); // the history panel names the answer the same way
  els.noneBtn.appendChild(document.createTextNode(name + " "));
  if (noneHotkeyFree) {
    const k = document.createElement("kbd");
    k.id = "none-key";
    k.textContent = noneHotkey;
    els.noneBtn.appendChild(k);
  }
}

// The Labels and Keys panels, drawn by the server with the page: drawn again here once the page
// takes on the server's labels (or a label goes), so every key and name they list is the one the
// buttons and keys use. Only then: the panels are not redrawn on every answer.
let helpDrawnFor = "0:0"; // labelsGeneration:goneCount the panels show (the server drew generation 0)

export function renderLabelHelp() {
  const drawing = `${labelsGeneration}:${goneCount()}`;
  if (drawing === helpDrawnFor) return;
  helpDrawnFor = drawing;
  const list = document.querySelector("#label-help dl");
  if (list) {
    const rows = [];
    for (const l of labels) {
      if (isGone(l.id)) continue; // no longer the project's: a reload leaves it out too
      const dt = document.createElement("dt");
      if (l.parent !== null) dt.className = "fine";
      if (l.hotkey) {
        const k = document.createElement("kbd");
        k.textContent = l.hotkey;
        dt.append(k, " ");
      }
      dt.appendChild(bdi(fullName(l)));
      rows.push(dt);
      if (l.description) {
        const dd = document.createElement("dd");
        if (l.parent !== null) dd.className = "fine";
        dd.textContent = l.description;
        rows.push(dd);
      }
    }
    list.replaceChildren(...rows);
  }
  const noneKey = $("keys-none");
  if (noneKey) {
    noneKey.querySelector("kbd").textContent = noneHotkeyFree ? (otherLabel ? otherLabel.hotkey : noneHotkey) : "—";
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
  renderHistory();
}
