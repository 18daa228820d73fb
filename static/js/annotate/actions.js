/* What the annotator does: answer the current item (a label, "none of these" or a skip with a
   reason), move on, lease the next batch, undo the last answer. Buttons and keys both end up
   here, so the two can never disagree. */
import { detailOf, post, uuid4 } from "./http.js";
import { enqueue, flush, storedIds } from "./outbox.js";
import { notify, render, renderLabels } from "./render.js";
import { children, config, current, els, otherLabel, state } from "./state.js";

export function answer(kind, labelId, reason) {
  const item = current();
  if (!item || item.answer || state.busy) return;
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

// The next unanswered item after this one, else the first unanswered one, else "batch done".
function advance() {
  const { items, index } = state;
  state.coarse = null;
  els.filter.value = "";
  const next = items.findIndex((it, i) => i > index && !it.answer);
  const anyLeft = items.findIndex((it) => !it.answer);
  if (next >= 0) state.index = next;
  else if (anyLeft >= 0) state.index = anyLeft;
  else state.index = items.length;
  render();
}

// A coarse label with fine labels opens them first; a second pick of it (or Enter) keeps it.
export function pickLabel(label) {
  if (children.has(label.id) && state.coarse !== label) {
    state.coarse = label;
    els.filter.value = "";
    renderLabels();
    return;
  }
  answer("label", label.id);
}

export function loadBatch(batch) {
  state.items = batch.map((it) => Object.assign({}, it, { answer: null, stored: false }));
  state.index = 0;
  state.coarse = null;
  state.started = state.items.length > 0;
}

export async function lease() {
  if (state.busy) return;
  state.busy = true;
  els.startMessage.textContent = "Leasing…";
  try {
    await flush();
    const response = await post(config.leaseUrl, {});
    if (!response.ok) {
      notify(`Could not lease a batch: ${await detailOf(response)}`, "error");
      return;
    }
    const data = await response.json();
    state.progress = data.progress;
    loadBatch(data.items);
    state.leaseNote = data.items.length ? "" : (data.message || "Nothing is waiting for you right now.");
    els.startMessage.textContent = state.leaseNote;
  } finally {
    state.busy = false;
    render();
  }
}

export async function undo() {
  if (state.busy) return;
  state.busy = true;
  try {
    await flush();
    const target = storedIds[storedIds.length - 1];
    const response = await post(config.undoUrl, target ? { client_id: target } : {});
    if (response.status === 404) {
      notify("Nothing to undo.", "info");
      return;
    }
    if (!response.ok) {
      notify(`Undo failed: ${await detailOf(response)}`, "error");
      return;
    }
    const undone = await response.json();
    if (target) storedIds.pop();
    const progress = state.progress;
    if (progress && !undone.skipped) progress.done = Math.max(progress.done - 1, 0);
    const at = state.items.findIndex((it) => it.assignment === undone.assignment);
    if (at >= 0) {
      state.items[at].answer = null;
      state.items[at].stored = false;
      state.index = at;
      state.coarse = null;
      notify(`Undone: your answer on item ${undone.item}.`, "info");
    } else {
      // An answer from an earlier batch: its lease is re-opened, so fetch what we hold now.
      const held = await post(config.leaseUrl, {});
      if (held.ok) {
        const data = await held.json();
        state.progress = data.progress;
        loadBatch(data.items);
        const back = state.items.findIndex((it) => it.assignment === undone.assignment);
        if (back >= 0) state.index = back;
      }
      notify(`Undone: your answer on item ${undone.item} from an earlier batch.`, "info");
    }
  } finally {
    state.busy = false;
    render();
  }
}

// --- skip form: a skip always carries a reason ---------------------------------------------
export function openSkip() {
  if (!current() || state.busy) return;
  els.skipForm.hidden = false;
  els.skipForm.reset();
  els.skipForm.querySelector("input[type=radio]").focus();
}

export function closeSkip() {
  els.skipForm.hidden = true;
  document.activeElement && document.activeElement.blur();
}

export function submitSkip(reason) {
  reason = (reason || "").trim();
  if (!reason) {
    notify("Pick or type a reason to skip.", "error");
    return;
  }
  closeSkip();
  answer("skip", null, reason);
}
