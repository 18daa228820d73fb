/* What stands after the server refused a change or a clear of an answer on this page, and where a
   stored clear left its item. A refusal because the answer no longer stands (another tab or page
   of the same annotator changed or cleared it first) carries the annotator's answer that counts
   on the item now ("standing": a history row, or null when none does): the page shows that one,
   and a further change names it, so it is not refused again until a reload. An answer refused on
   its item (already answered in another tab, its slot taken) carries "standing" too. */
import { describeAnswer, entryFromRow, putBack, removeEntry } from "./history.js";
import { bdi, notify, render } from "./render.js";
import { els, firstWaiting, state } from "./state.js";

// Changes refused while a later change on the same answer was already queued: client id → what
// stood then (null: nothing). The later change names a client id never stored, so when it is
// refused too, what stood for the first stands.
const refusedChanges = new Map();

// What a refused answer, change or clear leaves standing: the server's word where the refusal
// carries it (told), else `before` ({id, client_id, answer, status, changed}: the entry before
// the change), followed through refused changes. Nothing queued behind a refused answer is sent
// (outbox.js dropDependents), so `before` never names an answer the server refused. null: no
// answer of the annotator counts on the item.
export function standingAfter(before, body) {
  if (body && body.standing !== undefined) {
    if (!body.standing) return null;
    const row = entryFromRow(body.standing);
    return { id: row.id, client_id: row.client_id, answer: row.answer, status: "saved", changed: row.changed,
      told: true };
  }
  let stood = before;
  while (stood && refusedChanges.has(stood.client_id)) stood = refusedChanges.get(stood.client_id);
  return stood;
}

// What a change or a clear may fall back to: the entry as it stands before it.
export function snapshot(entry) {
  return { id: entry.id, client_id: entry.client_id, answer: entry.answer, status: entry.status, changed: entry.changed };
}

export function noteRefusedChange(clientId, stood) {
  refusedChanges.set(clientId, stood);
}

// The entry shows what stands. Without the server's word the earlier answer was saved by now,
// unless the server refused it too (the queue sends in order, so its own callback already marked
// the entry "rejected", which stays). Nothing stands: the entry goes.
export function showStanding(entry, stood) {
  if (!stood) {
    removeEntry(entry);
    if (state.reopen === entry) state.reopen = null;
    return;
  }
  if (entry.status === "rejected" && !stood.told) return;
  const { id, client_id: clientId, answer, changed } = stood;
  Object.assign(entry, { client_id: clientId, answer, changed, status: "saved" }, id ? { id } : {});
}

// The sentence that ends a refusal's notice: which answer stands now.
export function standsNow(stood) {
  if (!stood) return [" No answer of yours counts on it now."];
  return [" Your answer stands: ", bdi(describeAnswer(stood.answer)), "."];
}

// A clear the server refused: the answer that stands keeps (or takes) its history row, and the
// item counts as answered again, as the server has it; an item the clear brought into this batch
// from an earlier one leaves it again. An item answered anew meanwhile is left to that answer's
// own reply (it goes after this one).
export function clearRefused(entry, stood, why, item, joined) {
  const at = item ? state.items.indexOf(item) : -1;
  const answeredAgain = at >= 0 && Boolean(item.answer);
  if (stood && !answeredAgain) {
    showStanding(entry, stood);
    putBack(entry);
  }
  if (at >= 0 && !answeredAgain) {
    const wasCurrent = state.index === at;
    if (joined) { // the item leaves the batch again: what came after it moves up one
      state.items.splice(at, 1);
      if (state.index > at) state.index -= 1;
    } else if (stood) {
      item.answer = stood.answer;
      item.stored = true;
    }
    if (wasCurrent) state.index = firstWaiting(at);
  }
  notify([`Clear not saved (item ${entry.item}): `, bdi(why), ...standsNow(stood)], "error");
  render();
}

// A clear dropped unsent (the answer it cleared was refused): the entry and its item are as before
// it (`before`: the entry's snapshot then), so the refusal of that answer finds them as it left them.
export function undoClear(entry, before, item, joined) {
  const at = item ? state.items.indexOf(item) : -1;
  if (at >= 0 && item.answer) return; // answered anew meanwhile: that answer is the server's to judge
  putBack(entry);
  if (at < 0) return;
  const wasCurrent = state.index === at;
  if (joined) { // the item leaves the batch again: what came after it moves up one
    state.items.splice(at, 1);
    if (state.index > at) state.index -= 1;
  } else {
    item.answer = before.answer;
    item.stored = before.status === "saved";
  }
  if (wasCurrent) state.index = firstWaiting(at);
}

const KEEPS_OTHERS = "Your answer is withdrawn; the item keeps the other annotators' answers.";

// Where a cleared answer of a closed wave left its item, said once the server stored the clear,
// unless an error (those stay until read) took the notice meanwhile.
export function closedWaveOutcome(data, cleared) {
  if (!els.notice.hidden && els.notice.classList.contains("error")) return;
  notify(`${cleared} ${data.still_labeled ? KEEPS_OTHERS
    : "Its wave is closed, so the item went back to the pool; it is not waiting for you."}`, "info");
}

// The server released a cleared item (its wave closed meanwhile): it does not wait here, unless
// the annotator already answered it again (that answer is the server's to judge).
export function releasedToPool(entry, data) {
  const at = state.items.findIndex((it) => it.assignment === entry.assignment && it.item === entry.item);
  if (at < 0 || state.items[at].answer) return;
  const wasCurrent = state.index === at;
  state.items.splice(at, 1);
  if (state.index > at) state.index -= 1;
  if (wasCurrent) state.index = firstWaiting(0);
  notify(data.still_labeled ? `Item ${entry.item} is not waiting for you: its wave closed. ${KEEPS_OTHERS}`
    : `Item ${entry.item} went back to the pool: its wave closed, so it is not waiting for you.`, "info");
  render();
}
