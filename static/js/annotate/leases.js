/* Keeping the batch's leases while someone works in the page, and letting them go when nobody
   does. Every third of a lease period (at least every 10 s) the page checks in with the server
   (batches/renew/), naming the items it still offers:

   * It asks to extend the leases only when the annotator did something in the page since they
     were last extended or leased (a key, a click or tap, the pointer moving over it, scrolling,
     coming back to the tab). Someone reading a long text without touching anything keeps the
     batch for a whole lease period after their last touch; a tab left alone for longer lets its
     items go to others (the server also stops extending a batch for which nobody answers, changes
     or clears anything, history included, for LONGTAIL_LEASE_RENEWAL_PERIODS lease periods:
     labeling/annotations/leasing.py renewal_limit).
   * A check-in that extends nothing still brings the labels a lead changed, the annotator's
     removal (403) and the leases lost meanwhile; the server answers it without row locks, so an
     idle tab's check-ins hold up nobody's answers.
   * The reply says which of the named leases were lost (taken by others after they ran out,
     answered in another tab, their wave closed, given back after a long time without an answer):
     those items leave the batch with one notice, and when nothing is left to answer the page
     offers a new batch. A lease that ran out on an item nobody took is taken again by the next
     renewal, as an answer on it would be.
   * Coming back after a pause (the first sign of activity after a check-in that extended
     nothing, or after the machine slept) renews at once (after the reply of a check-in already on
     its way, on a slow network, and keys wait for both). When the leases may have run out
     meanwhile, keys typed before the reply wait for it (as they wait for a lease), so that a key
     meant for an item that went to someone else answers nothing.
   * Opening (or reloading) the page with a batch held is activity too: it renews at once, since
     the leases may have been left alone for most of a lease period before. The server's renewal
     limit (renewal.py) applies as to any renewal, so a reload does not keep an idle batch forever.
   * An item with an answer, change or clear still in the outbox is neither named nor dropped: the
     server has not seen what the page did to it, so its lease's state there is out of date (a
     clear not stored yet reads as "answered"). The job's own reply decides what becomes of it. */
import { closeSkip, drainKeys } from "./actions.js";
import { post, refusalOf } from "./http.js";
import { followServerLabels, isHalted, memberRemoved, queuedItems, setSaveStatus } from "./outbox.js";
import { notify, render } from "./render.js";
import { labelsTicket } from "./stale_labels.js";
import { config, current, els, firstWaiting, state } from "./state.js";

const INTERVAL_MS = Math.max(config.leaseSeconds / 3, 10) * 1000;
const LEASE_MS = config.leaseSeconds * 1000;
const KEYS_WAIT_MS = 3000; // keys wait at most this long for a renewal's reply

let lastActivity = Date.now();
let activityItems = null; // the batch (state.items) the last activity saw
let extendedAt = -Infinity; // when a renewal last extended the leases (or a batch was leased)
let pausedAt = 0; // when a check-in extended nothing because nobody was at work (0: not paused)
let inFlight = false;
// Activity seen while a renewal was on its way: once its reply is in, the page looks again whether
// to renew (the reply may say items were lost, and a check-in extends nothing).
let lookAgain = false;
// Releases keys held for a renewal's reply (null: none held).
let releaseKeys = null;

// The page's unanswered items the server knows as the page does: none with a job still queued.
function settledUnanswered() {
  const queued = queuedItems();
  return state.items.filter((it) => !it.answer && !queued.has(it.item));
}
const unanswered = () => settledUnanswered().map((it) => it.assignment);
const keeping = () => !isHalted() && !state.removed && unanswered().length > 0;

// A batch came since the last look (the lease an Enter or a click asked for): its leases were
// just set, at `at` or before, and after the activity seen before it.
function sawBatch(at) {
  if (state.items === activityItems) return;
  activityItems = state.items;
  extendedAt = Math.max(extendedAt, at);
  pausedAt = 0;
}

function noteActivity() {
  const now = Date.now();
  sawBatch(now - 1);
  lastActivity = now;
  if (!keeping()) return;
  // Back after a pause, or after the machine slept past a renewal: renew before anything is answered.
  if (!pausedAt && now - extendedAt <= INTERVAL_MS + 2000) return;
  const mayHaveRunOut = now - extendedAt >= LEASE_MS - INTERVAL_MS;
  if (inFlight) {
    // The timer's check-in is on its way (a slow network): keys wait for its reply as for a renewal
    // of their own, and the renewal follows it.
    if (mayHaveRunOut) holdKeys();
    lookAgain = true;
    return;
  }
  pausedAt = 0;
  renew(true, mayHaveRunOut);
}

// Keys typed from now wait (state.busy, as for a lease) until releaseKeys(), at most KEYS_WAIT_MS.
function holdKeys() {
  if (releaseKeys || state.busy) return;
  state.busy = true;
  releaseKeys = () => {
    if (!releaseKeys) return;
    releaseKeys = null;
    state.busy = false;
    drainKeys();
  };
  setTimeout(() => releaseKeys && releaseKeys(), KEYS_WAIT_MS);
}

function tick() {
  if (inFlight || !keeping()) return;
  sawBatch(Date.now());
  const active = lastActivity > extendedAt;
  if (!active && !pausedAt) pausedAt = Date.now();
  renew(active, false);
}

// extend: ask the server to extend (else a check-in). hold: keys typed meanwhile wait for the reply.
async function renew(extend, hold) {
  inFlight = true;
  const sentAt = Date.now();
  if (hold) holdKeys();
  try {
    const ticket = labelsTicket();
    const response = await post(config.renewUrl, {
      labels_version: state.labelsVersion, assignments: unanswered(), extend,
    });
    if (response.ok) {
      const data = await response.json().catch(() => null); // cut off on its way: says nothing
      if (extend) extendedAt = sentAt;
      if (data) {
        // A reply held up behind newer ones keeps the labels they brought (stale_labels.js freshLabels).
        followServerLabels(data, ticket);
        dropLost(data.lost || []);
      }
    } else if (response.status === 403) {
      const { reason } = await refusalOf(response);
      if (reason.startsWith("You are no longer a member")) memberRemoved(reason); // projects.locks.not_a_member's wording
    }
  } catch (e) {
    // Offline or any other failure: nothing changes, the next renewal tries again.
  } finally {
    inFlight = false;
    const again = lookAgain;
    lookAgain = false;
    if (again && keeping() && (pausedAt || Date.now() - extendedAt > INTERVAL_MS + 2000)) {
      pausedAt = 0;
      renew(true, Boolean(releaseKeys)); // the keys held stay held for this one's reply
    } else if (releaseKeys) {
      releaseKeys();
    }
  }
}

// What the page says of lost items, by the server's reason: [one item, several].
const WHY = {
  taken: ["your lease on it ran out and another annotator took it", "your leases on them ran out and other annotators took them"],
  answered: ["it was answered in another tab or session", "they were answered in another tab or session"],
  wave_closed: ["your lease ran out after its wave closed, and it is in a newer wave now",
    "your leases ran out after their wave closed, and they are in a newer wave now"],
  idle: ["it went back to the pool after a long time without an answer in this batch",
    "they went back to the pool after a long time without an answer in this batch"],
  gone: ["it is no longer in the project", "they are no longer in the project"],
  decided: ["a lead labeled it in review", "a lead labeled them in review"],
};

function itemList(ids) {
  if (ids.length === 1) return `Item ${ids[0]}`;
  return `Items ${ids.slice(0, -1).join(", ")} and ${ids[ids.length - 1]}`;
}

function lostNotice(dropped, why) {
  const groups = new Map();
  for (const it of dropped) {
    const lost = why.get(it.assignment);
    const reason = WHY[lost.reason] ? lost.reason : lost.message || lost.reason;
    if (!groups.has(reason)) groups.set(reason, []);
    groups.get(reason).push(it.item);
  }
  const parts = [...groups.entries()].map(([reason, ids]) => {
    const said = WHY[reason] ? WHY[reason][ids.length === 1 ? 0 : 1] : reason.replace(/\.$/, "");
    return `${itemList(ids)} left this batch: ${said}.`;
  });
  return parts.join(" ");
}

// The renewal's lost leases: their items, still unanswered on the page, leave the batch.
function dropLost(lost) {
  const why = new Map(lost.map((l) => [l.assignment, l]));
  // Answered, changed or cleared since the renewal went out: what the server said is out of date.
  const dropped = settledUnanswered().filter((it) => why.has(it.assignment));
  if (!dropped.length) return;
  const was = current();
  const wasDropped = Boolean(was) && dropped.includes(was);
  const before = state.items.slice(0, state.index).filter((it) => !dropped.includes(it)).length;
  const kept = state.items.filter((it) => !dropped.includes(it));
  if (activityItems === state.items) activityItems = kept;
  state.items = kept;
  if (wasDropped) {
    if (!els.skipForm.hidden) closeSkip(); // its reason was meant for the item that left
    state.coarse = null;
    // Keys typed for the item that left would answer the next one, unseen: they answer nothing.
    state.pendingKeys.splice(0, state.pendingKeys.length);
  }
  state.index = wasDropped ? firstWaiting(before) : kept.indexOf(was);
  if (state.index < 0) state.index = firstWaiting(0);
  let message = lostNotice(dropped, why);
  if (!kept.some((it) => !it.answer)) {
    if (!kept.length) state.started = false; // nothing of this batch is on the page any more: Start
    message += " Nothing is left to answer in this batch: press Enter for a new one.";
  }
  notify(message, "error"); // the notice is an alert: screen readers read it once, no announcement
  render();
  setSaveStatus();
}

// Signs that someone is at work in the page. Listened to on window in the capture phase, before
// keys.js's handler (installKeys): the key that ends a pause finds the renewal already under way.
export function watchActivity() {
  const opts = { capture: true, passive: true };
  for (const type of ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "scroll"]) {
    window.addEventListener(type, noteActivity, opts);
  }
  // Coming back to the tab or the window; not the focus the page itself moves between its controls.
  window.addEventListener("focus", (e) => { if (e.target === window) noteActivity(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) noteActivity(); });
}

// Start the renewals once the page's batch (if any) is loaded: opening the page counts as activity.
export function keepLeases() {
  // The page shows only leases live when it was drawn, but they may run out soon (the batch was
  // left alone before this visit): renew them now rather than at the first tick.
  lastActivity = Date.now();
  extendedAt = lastActivity - 1;
  activityItems = state.items;
  setInterval(tick, INTERVAL_MS);
  if (keeping()) renew(true, false);
}
