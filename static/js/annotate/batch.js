/* Batches: load the one the page was given or the server leases, and the keys typed while a
   lease is under way (keys.js queues or counts them; drainKeys applies the queued ones). Leasing
   is the only action the annotator waits for: it first waits for every queued answer, so the
   server counts them before it hands out more. */
import { focusItem, onControl } from "./focus.js";
import { entryFromRow } from "./history.js";
import { detailOf, post } from "./http.js";
import { flush, followServerLabels, setSaveStatus, unappliedText } from "./outbox.js";
import { notify, render } from "./render.js";
import { labelsTicket } from "./stale_labels.js";
import { config, els, state } from "./state.js";

export function loadBatch(batch, answered) {
  const rows = (answered || [])
    .map((it) => Object.assign({}, it, { answer: entryFromRow(it.answered).answer, stored: true }))
    .concat(batch.map((it) => Object.assign({}, it, { answer: null, stored: false })));
  rows.sort((a, b) => a.position - b.position);
  state.items = rows;
  const first = rows.findIndex((it) => !it.answer);
  state.index = first >= 0 ? first : rows.length;
  state.coarse = null;
  state.started = state.items.length > 0;
}

const LEASE_UNREACHABLE = "Could not reach the server; press Enter to try again.";

export async function lease() {
  if (state.busy) return;
  const fromControl = onControl(); // Start or Next batch, reached with Tab
  state.busy = true;
  state.reopen = null;
  state.unappliedKeys = 0; // a count of this load's keys only
  els.startMessage.textContent = "Leasing…";
  try {
    await flush();
    const ticket = labelsTicket();
    let response;
    let data;
    try {
      response = await post(config.leaseUrl, { labels_version: state.labelsVersion });
      // A reply cut off on its way (fetch() resolves on the headers, the body read fails) is no
      // reply either: the server may have leased the batch, and the next lease gives it again.
      if (response.ok) data = await response.json();
    } catch (e) {
      // No answer at all (server down, network gone), or one cut off: Enter tries again.
      leaseFailed(LEASE_UNREACHABLE);
      return;
    }
    if (!response.ok) {
      leaseFailed(`Could not lease a batch: ${await detailOf(response)}`);
      return;
    }
    if (els.notice.textContent === LEASE_UNREACHABLE) notify(""); // that failure is over
    state.progress = data.progress;
    loadBatch(data.items);
    state.leaseNote = data.items.length ? "" : (data.message || "Nothing is waiting for you right now.");
    els.startMessage.textContent = state.leaseNote;
    // The page's labels were out of date: the batch is answered under the current ones.
    followServerLabels(data, ticket);
    setSaveStatus();
  } catch (e) {
    // Whatever went wrong, the page does not say "Leasing…" with nothing under way: Enter tries again.
    console.error(e);
    leaseFailed(LEASE_UNREACHABLE);
  } finally {
    state.busy = false;
    render();
    if (fromControl) focusItem();
    if (state.unappliedKeys) tellUnapplied();
    drainKeys();
  }
}

// Answering keys pressed while the batch loaded (keys.js): the notice says they were not applied,
// after what a lead changed if that is there; an unread error keeps the notice (the save status
// says it too).
function tellUnapplied() {
  const said = `${unappliedText()}: answer each item once you see it.`;
  if (els.notice.hidden || !els.notice.textContent) notify(said, "info");
  else if (els.notice.classList.contains("info")) notify([...els.notice.childNodes, ` ${said}`], "info");
}

function leaseFailed(message) {
  els.startMessage.textContent = ""; // not "Leasing…": nothing is under way any more
  notify(message, "error");
}

// Keys typed while a lease was under way, applied in order (keys.js installs the applier).
let applyKey = null;
export function setKeyApplier(fn) { applyKey = fn; }
export function drainKeys() {
  while (state.pendingKeys.length && !state.busy && applyKey) applyKey(state.pendingKeys.shift());
  setSaveStatus(); // no key waits any more (or a new lease holds the rest)
}

