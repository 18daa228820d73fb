/* What the annotator does: answer the current item (a label, "none of these" or a skip with a
   reason), move on, reopen an earlier answer to change or clear it (leasing: batch.js).
   Buttons and keys both end up here, so the two can never disagree. Nothing here waits on the
   network: answers, changes and clears queue in the outbox in the order given. */
import { uuid4 } from "./http.js";
import { focusFirstLabel, focusItem, keepFocus, onControl } from "./focus.js";
import { addEntry, describeAnswer, removeEntry, reopenable } from "./history.js";
import { goneLabelNotice, labelsChanged } from "./labels_changed.js";
import { enqueue, notSent, setSaveStatus } from "./outbox.js";
import { announce, bdi, notify, render, renderLabels } from "./render.js";
import { isGone } from "./stale_labels.js";
import { clearRefused, closedWaveOutcome, noteRefusedChange, releasedToPool, showStanding, snapshot, standingAfter,
  standsNow, undoClear } from "./standing.js";
import { children, config, current, els, firstWaiting, otherLabel, state } from "./state.js";

// The skip form's error: it goes once a skip (or any answer) is given, or the form is closed.
const NEEDS_REASON = "Pick or type a reason to skip.";

// The server said the annotator is no longer a member (outbox.js memberRemoved): nothing given
// from now on can be stored, so the page says why instead of acting as if it could. True then.
function refusedForRemoval() {
  if (!state.removed) return false;
  notify(state.removed, "error");
  return true;
}

function answerFields(kind, labelId, reason) {
  const payload = {};
  if (kind === "label") payload.label = labelId;
  else if (kind === "none") {
    if (otherLabel) payload.label = otherLabel.id;
    else payload.none_of_these = true;
  } else if (kind === "skip") {
    payload.skipped = true;
    payload.skip_reason = reason;
  }
  return payload;
}

function withSuggestion(payload, item) {
  if (config.suggestions && item && item.suggestion) {
    payload.suggestion_shown = true;
    payload.suggested_label = item.suggestion.label;
  }
  return payload;
}

// The label an answer sends, if any (none-of-these sends the Other label where there is one).
function sentLabel(kind, labelId) {
  if (kind === "label") return labelId;
  return kind === "none" && otherLabel ? otherLabel.id : null;
}

export function answer(kind, labelId, reason) {
  if (refusedForRemoval()) return;
  // Given from a focused control (Tab, then Enter or Space), the focus moves on to the next item.
  const fromControl = onControl();
  // An answer given another way (a click) while the skip form is open closes it: left open, it
  // would turn the next digit, meant as a label's hotkey, into a skip of the next item.
  if (!els.skipForm.hidden) closeSkip();
  if (isGone(sentLabel(kind, labelId))) { goneLabelNotice(sentLabel(kind, labelId)); return; }
  if (els.notice.textContent === NEEDS_REASON) notify(""); // any answer settles it, the form open or not
  if (state.unappliedKeys) { state.unappliedKeys = 0; setSaveStatus(); } // said until the next answer
  if (state.reopen) {
    change(state.reopen, { kind, labelId: labelId || null, reason: reason || "" });
    if (fromControl) focusItem();
    return;
  }
  const item = current();
  if (!item || item.answer) return;
  const position = `item ${state.index + 1} of ${state.items.length}`;
  const payload = withSuggestion(Object.assign({ client_id: uuid4(), assignment: item.assignment },
    answerFields(kind, labelId, reason)), item);
  const given = { kind, labelId, reason };
  item.answer = given;
  const entry = addEntry(item, payload.client_id, given);
  enqueue({
    url: config.answerUrl, payload, label: `item ${item.item}`, item: item.item,
    stored(data) {
      item.stored = true;
      entry.id = data.annotation.id;
      entry.status = "saved";
      // Counted here, once per answer, created or not: a retry (the same client id) the server
      // found stored ("created": false) is one whose earlier reply was lost, never counted yet.
      const progress = state.progress;
      if (progress) progress.done = Math.min(progress.done + 1, progress.needed);
    },
    refused(why, field, body, dropped = []) {
      // The changes queued behind it were dropped, unsent, and undone (outbox.js dropDependents).
      if (state.reopen === entry) state.reopen = null;
      const ours = item.answer === given; // else answered anew after a clear: that answer's reply decides
      if (field === "label") {
        // The label left the project after this page loaded: the item is still leased to this
        // annotator, so it waits for another answer rather than counting as done.
        removeEntry(entry);
        if (ours) {
          item.answer = null;
          item.stored = false;
          if (!current()) state.index = state.items.indexOf(item);
        }
        const after = dropped.length ? "; the change you made to it after was not sent" : "";
        labelsChanged(`Not saved (item ${item.item})`, payload.label,
          `item ${item.item} waits for your answer${after}`);
        return true;
      }
      // Refused on its item (answered in another tab, the slot taken): the server says which of
      // the annotator's answers counts there now, and the page shows that one.
      const told = body && body.standing !== undefined;
      const stood = told ? standingAfter(null, body) : null;
      if (stood) {
        showStanding(entry, stood);
        if (ours) { item.answer = stood.answer; item.stored = true; }
      } else {
        if (ours) { item.answer = { kind: "rejected", reason: why }; item.stored = false; }
        entry.status = "rejected";
        entry.answer = { kind: "rejected", reason: why };
      }
      if (!told && !dropped.length) return false; // the outbox says it
      notify([`Not saved (item ${item.item}): `, bdi(why), ...notSent(dropped), ...(told ? standsNow(stood) : [])],
        "error");
      return true;
    },
  });
  if (els.notice.classList.contains("info")) notify(""); // errors stay until read and replaced
  advance();
  const next = current();
  announce(`Answered ${describeAnswer(item.answer)} · ${position}. ` +
    (next ? `Now item ${state.index + 1} of ${state.items.length}.` : "Batch done."));
  if (fromControl) focusItem();
}

// The next unanswered item after this one, else the first unanswered one, else "batch done".
function advance() {
  state.coarse = null;
  els.filter.value = "";
  if (document.activeElement === els.filter) els.filter.blur(); // a click answered: keys are the page's again
  state.index = firstWaiting(state.index + 1);
  render();
}

// A coarse label with fine labels opens them first; a second pick of it (or Enter) keeps it.
export function pickLabel(label) {
  if (refusedForRemoval()) return;
  if (isGone(label.id)) { goneLabelNotice(label.id); return; }
  if (children.has(label.id) && state.coarse !== label) {
    const fromButton = els.buttons.contains(document.activeElement);
    state.coarse = label;
    els.filter.value = "";
    leaveFilter(); // the fine labels are picked by their keys, and Enter keeps the coarse label
    renderLabels();
    announce(`In ${label.name}: pick a fine label, or Enter keeps ${label.name}.`);
    if (fromButton) focusFirstLabel(); // Tab and Enter opened it: go on among its fine labels
    revealFineLabels();
    return;
  }
  answer("label", label.id);
}

// The fine labels a coarse label just opened, in view: on a phone or a zoomed page the labels sit
// under the item, and a key opens them off screen; the next key picks among them, so the annotator
// must see them. The "In <coarse>:" line first, then the first fine label, which wins if both do not fit.
function revealFineLabels() {
  els.coarseStep.scrollIntoView({ block: "nearest" });
  const first = els.buttons.querySelector("button.label-btn");
  if (first) first.scrollIntoView({ block: "nearest" });
}

// Keys are the page's again: a filter left focused after a click would take the next Enter.
export function leaveFilter() {
  if (document.activeElement === els.filter) els.filter.blur();
}

// --- reopen, change, clear ------------------------------------------------------------------
// Backspace reopens the last answer; pressed again, the one before it ([ and ] walk too).
export function reopenOlder() {
  const list = reopenable();
  if (!list.length) { notify("No answer to reopen yet.", "info"); return; }
  const at = state.reopen ? list.indexOf(state.reopen) : -1;
  if (at >= list.length - 1) { notify("That is the oldest answer in this session's history.", "info"); return; }
  reopen(list[at + 1]);
}

export function reopenNewer() {
  if (!state.reopen) return;
  const list = reopenable();
  const at = list.indexOf(state.reopen);
  if (at <= 0) closeReopen();
  else reopen(list[at - 1]);
}

export function reopen(entry) {
  if (!entry || entry.status === "rejected") return;
  if (!els.skipForm.hidden) closeSkip(); // its reasons would go to the reopened answer
  state.reopen = entry;
  state.coarse = null;
  els.filter.value = "";
  render();
  announce(`Reopened item ${entry.item}: your answer was ${describeAnswer(entry.answer)}.`);
}

export function closeReopen() {
  keepFocus(() => { // the reopen banner's Clear and Back buttons go with it
    state.reopen = null;
    state.coarse = null;
    els.filter.value = "";
    if (document.activeElement === els.filter) els.filter.blur();
    render();
  });
}

function change(entry, next) {
  const clientId = uuid4();
  const payload = withSuggestion(Object.assign({ client_id: clientId, supersedes_client_id: entry.client_id },
    answerFields(next.kind, next.labelId, next.reason)), entry);
  const before = snapshot(entry);
  entry.client_id = clientId; // a further change supersedes this one
  entry.answer = next;
  entry.changed = true;
  entry.status = "saving";
  const item = state.items.find((it) => it.assignment === entry.assignment && it.item === entry.item);
  if (item && item.answer) item.answer = next;
  enqueue({
    url: config.changeUrl, payload, label: `change on item ${entry.item}`, item: entry.item,
    stored(data) { entry.id = data.annotation ? data.annotation.id : entry.id; entry.status = "saved"; },
    // The answer it changes was refused: it is never sent, and the entry and item are as before it.
    dropped() {
      if (entry.client_id === clientId) {
        Object.assign(entry, { client_id: before.client_id, answer: before.answer, changed: before.changed,
          status: before.status });
      }
      if (item && item.answer === next) item.answer = before.answer;
    },
    refused(why, field, body) {
      // Refused, so nothing was stored: the answer that stands (the server says which when
      // another tab changed or cleared it first, else the earlier one) is what the history, a
      // reopen and the batch summary show, and what a further change names.
      const stood = standingAfter(before, body);
      // Noted whether or not a later change or clear was queued meanwhile: one that names this
      // change's client id (never stored) then falls back to what stands, not to this change.
      noteRefusedChange(clientId, stood);
      if (entry.client_id === clientId) showStanding(entry, stood);
      if (item && item.answer === next) {
        item.answer = stood ? stood.answer : null;
        item.stored = Boolean(stood);
      }
      if (field === "label") {
        labelsChanged(`Change not saved (item ${entry.item})`, payload.label, "your earlier answer stands");
      } else if (stood && !stood.told) {
        notify([`Change not saved (item ${entry.item}): `, bdi(why), " Your earlier answer stands."], "error");
      } else {
        notify([`Change not saved (item ${entry.item}): `, bdi(why), ...standsNow(stood)], "error");
      }
      return true;
    },
  });
  // Unless refused on the spot (the outbox sends nothing any more): the refusal said so.
  if (entry.client_id === clientId) {
    notify([`Changed your answer on item ${entry.item} to `, bdi(describeAnswer(next)), "."], "info");
  }
  closeReopen();
}

// Delete on a reopened answer: withdraw it. While its wave is open the item waits for an answer
// again, right now; a closed wave's item goes back to the pool, unless other annotators' answers
// still label it (the server says which: reopened, still_labeled).
export function clearReopened() {
  if (refusedForRemoval()) return;
  const entry = state.reopen;
  if (!entry) return;
  const payload = { client_id: uuid4(), supersedes_client_id: entry.client_id, clear: true };
  const before = snapshot(entry);
  let at = state.items.findIndex((it) => it.assignment === entry.assignment && it.item === entry.item);
  const leftThePage = at < 0 && !entry.waveOpen;
  const cleared = `Cleared your answer on item ${entry.item}.`;
  let onPage = null; // the item as the clear leaves it waiting on the page (set below, before any reply)
  let joined = false; // the clear brought it into this batch from an earlier one
  enqueue({
    url: config.changeUrl, payload, label: `clearing item ${entry.item}`, item: entry.item,
    stored(data) {
      // Counted here, once per clear, created or not: a retry the server found stored
      // ("created": false) is one whose earlier reply was lost; its reply says what the first did.
      const progress = state.progress;
      if (data.reopened && progress) progress.done = Math.max(progress.done - 1, 0);
      if (leftThePage) closedWaveOutcome(data, cleared);
      else if (!data.reopened) releasedToPool(entry, data);
    },
    // The answer it clears was refused: it is never sent, and the entry and item are as before it.
    dropped() { undoClear(entry, before, onPage, joined); },
    refused(why, field, body) {
      // Nothing was withdrawn: the answer that stands keeps its row and its item stays answered.
      clearRefused(entry, standingAfter(before, body), why, onPage, joined);
      return true;
    },
  });
  removeEntry(entry);
  if (leftThePage) {
    // What became of the item is the server's to say (closedWaveOutcome, once the clear is stored).
    notify(cleared, "info");
    closeReopen();
    return;
  }
  if (at < 0 && entry.assignment) {
    // An answer from an earlier batch: its lease is renewed by the clear, so it joins this one.
    state.items.push({ assignment: entry.assignment, item: entry.item, text: entry.text, source: entry.source,
      highlights: entry.highlights, highlights_cut: entry.highlights_cut, highlights_note: entry.highlights_note,
      metadata: entry.metadata, answer: null, stored: false });
    at = state.items.length - 1;
    state.started = true;
    joined = true;
  }
  if (at >= 0) {
    onPage = state.items[at];
    state.items[at].answer = null;
    state.items[at].stored = false;
    state.index = at;
  }
  notify(`Cleared your answer on item ${entry.item}; it waits for your answer.`, "info");
  closeReopen();
}

// --- batches: batch.js (re-exported: main.js and leases.js reach them through this module) -
export { drainKeys, lease, loadBatch, setKeyApplier } from "./batch.js";

// --- skip form: a skip always carries a reason ---------------------------------------------
export function openSkip() {
  if (refusedForRemoval()) return;
  if (!(state.reopen || current())) return;
  els.skipForm.hidden = false;
  els.skipForm.reset();
  els.skipForm.querySelector("input[type=radio]").focus();
}

export function closeSkip() {
  els.skipForm.hidden = true;
  if (els.notice.textContent === NEEDS_REASON) notify("");
  if (document.activeElement) document.activeElement.blur();
}

export function submitSkip(reason) {
  reason = (reason || "").trim();
  if (!reason) {
    notify(NEEDS_REASON, "error");
    return;
  }
  answer("skip", null, reason); // it closes the form, once it has seen where the focus was
}

export function acceptSuggestion() {
  const item = state.reopen ? null : current();
  const s = config.suggestions && item ? item.suggestion : null;
  if (!s) return;
  const label = s.label;
  if (otherLabel && label === otherLabel.id) answer("none");
  else answer("label", label);
}
