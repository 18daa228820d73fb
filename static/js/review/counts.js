/* The review page's counts: each label group's count of the cards left on the page, and the line
   above the queue (#review-counts: open tasks and items, per reason, resolved by a lead, expired).
   The line's figures are the whole queue's, not the page's (other leads, a new model and cards not
   on the page change them), so after each decision they are read again from the queue API
   (GET review/, its counts: review_counts, the figures the template wrote) and written as the
   template writes them. When they cannot be read, or not in time, the line says it is not up to
   date. The decision's outcome never waits on this read (countsAfterDecision). */

const plural = (n, one, many) => n + " " + (n === 1 ? one : many);

// The queue API's URLs, from the bulk decision's (config.bulkUrl: /api/projects/<slug>/review/bulk/).
export const queueUrl = (bulkUrl, path = "") => bulkUrl.replace(/bulk\/$/, path);

// Tasks, as the counts line: an item with two open tasks is two. A group with none left is hidden,
// and the empty notice shows once no card is left.
export function refreshGroups(app, emptyEl) {
  app.querySelectorAll(".review-group").forEach((group) => {
    const left = group.querySelectorAll(".review-task:not(.done)").length;
    group.querySelector(".group-count").textContent = plural(left, "task", "tasks");
    group.hidden = left === 0;
  });
  emptyEl.hidden = app.querySelector(".review-task:not(.done)") !== null;
}

function write(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

function render(c) {
  write("count-open", plural(c.open, "open task", "open tasks") + " on " + plural(c.open_items, "item", "items"));
  write("count-reasons", [plural(c.disagreement, "disagreement", "disagreements"),
    plural(c.low_confidence, "low-confidence prediction", "low-confidence predictions"),
    plural(c.label_issue, "label issue", "label issues"),
    ...(c.lead_request ? [c.lead_request + " sent by a lead"] : [])].join(", "));
  write("count-resolved", c.resolved + " resolved by a lead");
  write("count-expired", c.expired + " expired, closed without a lead (by a newer model, or a wave took the item)");
}

function markStale(on) {
  const line = document.getElementById("review-counts");
  if (!line) return;
  let note = document.getElementById("counts-stale");
  if (!note && on) {
    note = document.createElement("span");
    note.id = "counts-stale";
    note.className = "notice error";
    note.textContent = "These figures could not be updated after the last decision: reload the page to see them.";
    line.prepend(note, " ");
  }
  if (note) note.hidden = !on;
}

// How long the counts read may take (a loaded server, a stalled connection): after it the line is
// marked not up to date, as when the read fails, rather than left showing the old figures as current.
export const COUNTS_READ_MS = 8000;
// How long a decision's outcome waits for the figures, so that on a server that answers at once
// the cards, the status and the line change together; a slower read never holds the decision back.
export const COUNTS_WAIT_MS = 700;

// Reads are numbered as they start: a reply is written only if no later-started read was written
// before it, so a slow reply carrying the figures of before the last decision never overwrites it.
let started = 0;
let written = 0;

// Reads the queue's counts again and writes them in the line; resolves false (the line marked as
// not up to date) when the server could not be asked or did not answer within COUNTS_READ_MS.
export async function refreshCounts(bulkUrl) {
  const seq = ++started;
  let counts;
  try {
    const response = await fetch(queueUrl(bulkUrl) + "?limit=1", {credentials: "same-origin",
      headers: {"Accept": "application/json"}, signal: AbortSignal.timeout(COUNTS_READ_MS)});
    if (!response.ok) throw new Error("HTTP " + response.status);
    counts = (await response.json()).counts;
  } catch (err) {
    // A later read already wrote newer figures: this one's failure says nothing about them.
    if (seq > written) markStale(true);
    return false;
  }
  if (seq < written) return false;
  written = seq;
  render(counts);
  markStale(false);
  return true;
}

// After a decision: starts the counts read and resolves once its figures are written or after
// COUNTS_WAIT_MS, whichever comes first; the read goes on and writes the line when it ends.
export function countsAfterDecision(bulkUrl) {
  const read = refreshCounts(bulkUrl);
  return Promise.race([read, new Promise((resolve) => setTimeout(resolve, COUNTS_WAIT_MS))]);
}
