/* Annotation page entry: the leased batch arrives as JSON, items render locally, answers go to
   the server in the background (in order, retried with the same client id, so each is stored
   once). This module only wires the page together; see state.js, render.js, history.js,
   outbox.js, actions.js, labels_changed.js, focus.js, keys.js and leases.js for the parts.
   Loaded with <script type="module">, so it runs once the document is parsed. */
import { acceptSuggestion, answer, clearReopened, closeReopen, closeSkip, lease, leaveFilter, loadBatch, openSkip,
  pickLabel, reopen, reopenOlder, submitSkip } from "./actions.js";
import { focusFirstLabel } from "./focus.js";
import { entryFromRow } from "./history.js";
import { installKeys } from "./keys.js";
import { keepLeases, watchActivity } from "./leases.js";
import { pendingCount, setSaveStatus, timings } from "./outbox.js";
import { render, renderLabels, settling } from "./render.js";
import { byId, config, els, state } from "./state.js";

// Buttons and summaries never take focus from a mouse click (or a tap): the keyboard stays the
// page's, and a button Tab left focused lets go at the click. So a focused button or summary
// always got there by Tab, and keys.js lets Enter and Space activate it. A click the keyboard
// made (Enter or Space on it: detail 0) keeps the focus where it is.
const app = document.getElementById("annotate-app");
const isControl = (el) => el && el.matches && el.matches("button, summary") && !el.closest("#skip-form");
app.addEventListener("mousedown", (e) => {
  if (!isControl(e.target.closest("button, summary"))) return;
  e.preventDefault();
  if (isControl(document.activeElement)) document.activeElement.blur();
});
app.addEventListener("click", (e) => {
  const b = e.target.closest("button, summary");
  if (isControl(b) && e.detail > 0) setTimeout(() => b.blur(), 0);
});

els.skipForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const picked = els.skipForm.querySelector("input[name=reason]:checked");
  submitSkip(els.skipOther.value.trim() || (picked ? picked.value : ""));
});
els.skipCancel.addEventListener("click", (e) => {
  closeSkip();
  if (e.detail === 0) els.skipBtn.focus(); // cancelled from the keyboard: back where it opened
});

// A click that answers nothing: the second click of a double-click (the first one answered, and
// the buttons under the pointer already belong to the next item), or a pointer click within a
// moment of the next item coming up (render.js settling), before the annotator could read it.
// Enter or Space on a button Tab reached (detail 0) was aimed at that button: it counts.
const strayClick = (e) => e.detail > 1 || (e.detail > 0 && settling());

// One listener for all label buttons: render.js rebuilds them on every change.
els.buttons.addEventListener("click", (e) => {
  const button = e.target.closest("button.label-btn");
  if (button && !button.disabled && !strayClick(e)) pickLabel(byId.get(Number(button.dataset.label)));
});
els.historyList.addEventListener("click", (e) => {
  const row = e.target.closest("button.history-row");
  if (!row) return;
  const at = [...els.historyList.querySelectorAll("button.history-row")].indexOf(row);
  reopen(state.history[at]);
});
els.filter.addEventListener("input", () => { state.coarse = null; renderLabels(); });
els.startBtn.addEventListener("click", lease);
els.nextBtn.addEventListener("click", lease);
els.noneBtn.addEventListener("click", (e) => { if (!strayClick(e)) answer("none"); });
els.skipBtn.addEventListener("click", openSkip);
els.undoBtn.addEventListener("click", reopenOlder);
els.suggestion.querySelector("button").addEventListener("click", (e) => { if (!strayClick(e)) acceptSuggestion(); });
els.coarseOnly.addEventListener("click", (e) => { if (state.coarse && !strayClick(e)) answer("label", state.coarse.id); });
els.coarseBack.addEventListener("click", () => {
  const had = document.activeElement === els.coarseBack; // Tab and Enter: it hides, go on from the labels
  state.coarse = null;
  leaveFilter();
  renderLabels();
  if (had) focusFirstLabel();
});
// The reopen banner's buttons do what Delete and Esc do, for a mouse or a phone.
els.reopenClear.addEventListener("click", clearReopened);
els.reopenBack.addEventListener("click", closeReopen);
watchActivity(); // before installKeys: a key that ends a pause finds the lease check under way (leases.js)
installKeys();
window.addEventListener("beforeunload", (e) => {
  if (pendingCount()) { e.preventDefault(); e.returnValue = ""; }
});

// A batch still held from an earlier visit shows at once, its answered items counted.
if (config.batch.length) loadBatch(config.batch, config.batchAnswered);
const inBatch = new Map(state.items.map((it) => [it.assignment, it]));
state.history = (config.history || []).map((row) => entryFromRow(row, inBatch.get(row.assignment)));
// Save timings for the soak benchmark (read through the page, never sent anywhere).
window.longtailTimings = timings;
setSaveStatus();
render();
// Renew the leases while someone works in the page; lost ones leave the batch (leases.js).
keepLeases();
