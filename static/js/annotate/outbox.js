/* Background saving. Answers, changes and clears queue here and go to the server one at a time,
   in order, so the annotator never waits on the network and a change always reaches the server
   after the answer it changes. A failed send is retried with the same client id, which the
   server uses to store each answer once. A 401/403 halts the queue without dropping anything
   (the annotator signs in again in another tab and presses Retry); any other 4xx is a refusal
   for good, shown and counted as handled so the batch can finish; the header then says how many
   answers were not saved (never "All answers saved") until the item is answered again and stored,
   or the page is reloaded.

   Labels: a job's label goes with the name the page showed for it (label_name, set when it is
   queued), and every send with the version of the page's labels. A reply that carries the
   project's current labels is adopted (stale_labels.js), unless the reply to a later request
   told the page its labels first (replies come back in any order), and an answer the server
   refused because its label is named otherwise now (409 on "label_name": a lead renamed it, or
   gave its key to a new label) puts its item back, unanswered, under the labels as they are now.

   A member removed from the project (403 "no longer a member") stops the queue for good: the
   answers still queued are counted as not saved, the batch leaves the page (nothing on it can be
   stored any more) and what is given later is refused on the spot, with the server's message.

   A refused answer takes with it the changes and clears queued behind it that supersede it (by
   its client id, or one of theirs): they name an answer that was never stored, so the server
   could only refuse them too. They leave the queue unsent, each undoing what it did on the page
   (dropped()), newest first, and the answer's own callback says once what stands. (What queued
   behind a refused change is sent, refused in turn, and falls back to what the first refusal
   found: standing.js.)

   A job: {url, payload, label (for messages), item (the item's id), stored(data),
   refused(reason, field, body, dropped), dropped()}; refused returns true when it told the
   annotator itself; dropped: the jobs that left the queue with it. */
import { focusItem } from "./focus.js";
import { noneName, removeEntry, stampStored } from "./history.js";
import { post, refusalOf, sleep } from "./http.js";
import { bdi, notify, render, renderLabelHelp, renderProgress } from "./render.js";
import { adoptServerLabels, freshLabels, isGone, labelsTicket } from "./stale_labels.js";
import { byId, els, fullName, key, labels, otherLabel, shown, state } from "./state.js";

const queue = [];          // jobs not yet acknowledged by the server, in order
let pumping = false;
let sending = null;        // the job being sent, until its reply is handled (a refusal leaves the queue first)
let flushWaiters = [];
let halted = false;        // the server refused our session (401/403): keep answers, stop sending
let notSaved = [];         // refused jobs' items ({item, label}) not stored since
export const timings = []; // ms from enqueue to the server's acknowledgement (the soak reads them)

export const pendingCount = () => queue.length;
export const isHalted = () => halted;
// The items (ids) with an answer, change or clear not yet acknowledged: the server does not know
// yet what the page did to them (leases.js leaves them out of a renewal).
export const queuedItems = () => new Set([...queue, ...(sending ? [sending] : [])].map((job) => job.item));

export function setSaveStatus() {
  const refused = new Set(notSaved.map((n) => n.item)).size; // one item refused twice is one answer not saved
  const refusedText = `${refused} answer${refused === 1 ? "" : "s"} not saved (see the notice)`;
  if (state.removed) els.saveStatus.textContent = `You are no longer a member of this project; ${refusedText}`;
  else if (halted) els.saveStatus.textContent = `${queue.length} answer(s) waiting: sign in again to save them`;
  else if (queue.length) els.saveStatus.textContent = `Saving ${queue.length} answer(s)…`;
  // Keys pressed while a batch loads: the queued ones are applied once it is here (batch.js
  // drainKeys), the answering ones never are; either way not "All answers saved" until then.
  // Keys held while an item is on screen wait for a lease check instead (leases.js; keys.js
  // tells the two apart the same way).
  else if (state.pendingKeys.length || state.unappliedKeys) {
    const waiting = state.pendingKeys.length;
    const waitingFor = shown() ? "Checking your leases" : "Waiting for the batch";
    els.saveStatus.textContent = [waiting ? `${waitingFor}: ${waiting} key(s) to apply…` : "",
      state.unappliedKeys ? unappliedText() : ""].filter(Boolean).join("; ");
  } else els.saveStatus.textContent = refused ? refusedText : "All answers saved";
  els.saveStatus.dataset.pending = String(queue.length);
  els.saveStatus.dataset.waitingKeys = String(state.pendingKeys.length);
  els.saveStatus.dataset.unappliedKeys = String(state.unappliedKeys);
  els.saveStatus.dataset.refused = String(refused);
  els.saveStatus.classList.toggle("refused", refused > 0 && !queue.length);
  els.doneMessage.textContent = state.leaseNote ||
    (queue.length ? "Your answers are being saved in the background."
      : refused ? `${refusedText}; your other answers are saved.` : "All your answers are saved.");
}

export function enqueue(job) {
  const shownLabel = job.payload.label !== undefined && job.payload.label !== null ? byId.get(job.payload.label) : null;
  if (shownLabel && job.payload.label_name === undefined) job.payload.label_name = shownLabel.name;
  if (state.removed) { refuseForRemoval(job); notify(state.removed, "error"); setSaveStatus(); return; }
  job.tries = 0;
  job.queuedAt = performance.now();
  queue.push(job);
  setSaveStatus();
  pump();
}

async function pump() {
  if (pumping || halted) return;
  pumping = true;
  try {
    while (queue.length && !halted) {
      const job = queue[0];
      sending = job;
      try {
        await send(job);
      } catch (e) {
        // A fault in handling a reply must not stop the queue (pumping stuck, flush() never over,
        // a Next batch "Leasing…" for good): the job, if still queued, is sent again, a little later.
        console.error(e);
        if (queue[0] === job) await retryLater(job, null);
      } finally {
        sending = null;
        setSaveStatus();
      }
    }
  } finally {
    pumping = false;
    if (!queue.length) {
      const waiters = flushWaiters;
      flushWaiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }
}

// One send of the first job and what its reply does. A 2xx whose body cannot be read (the
// connection dropped while it came back: fetch() resolves on the headers, the body read fails) is
// no reply, as a network error is: the job is sent again with the same client id, and the server
// replays what it stored the first time, counted once.
async function send(job) {
  job.payload.labels_version = state.labelsVersion; // the latest the page has, on a retry too
  const ticket = labelsTicket();
  let response = null;
  let data = null;
  try {
    response = await post(job.url, job.payload);
    if (response.ok) data = await response.json();
  } catch (e) {
    response = null; // no reply: retry below
  }
  if (response && response.ok) {
    queue.shift();
    timings.push(performance.now() - job.queuedAt);
    // A later answer on the item stored: what was refused on it no longer stands.
    if (job.item !== undefined) notSaved = notSaved.filter((n) => n.item !== job.item);
    // The History panel shows the time the server stored the answer (or change), not the browser's.
    if (data && data.annotation) stampStored(job.payload.client_id, data.annotation);
    if (job.stored) job.stored(data);
    followServerLabels(data, ticket);
    renderProgress();
  } else if (response && response.status === 403 && await saysNoLongerMember(response)) {
    memberRemoved((await refusalOf(response)).reason);
  } else if (response && response.status === 409 && await isRenamedLabel(response)) {
    queue.shift();
    const { reason, field, body } = await refusalOf(response);
    if (body.labels && freshLabels(ticket, body)) adoptServerLabels(body.labels, body.labels_version);
    const dropped = dropDependents(job);
    if (!isChange(job)) putBackUnanswered(job, reason, dropped);
    else if (!(job.refused && job.refused(reason, field, body, dropped))) {
      notify([`Not saved (${job.label}): `, bdi(reason), ...notSent(dropped)], "error");
    }
    render();
  } else if (response && (response.status === 401 || response.status === 403)) {
    halted = true;
    notify("Your session ended, so answers are not being saved. Sign in again in another tab, then press Retry.", "error");
    showRetry();
  } else if (response && response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
    // Refused for good (e.g. the lease expired and someone else took the slot): say so, go on.
    queue.shift();
    const { reason, field, body } = await refusalOf(response);
    notSaved.push({ item: job.item, label: job.label });
    const dropped = dropDependents(job); // after the awaits: a change queued meanwhile goes too
    const told = job.refused ? job.refused(reason, field, body, dropped) : false;
    if (!told) notify([`Not saved (${job.label}): `, bdi(reason), ...notSent(dropped)], "error");
    render();
  } else {
    await retryLater(job, response);
  }
}

async function retryLater(job, response) {
  job.tries += 1;
  els.saveStatus.textContent = `Saving failed (${response ? "HTTP " + response.status : "network"}), retrying…`;
  await sleep(Math.min(500 * 2 ** Math.min(job.tries, 5), 10000));
}

// Leasing waits for every queued answer first, so the server counts them before it hands out more.
export function flush() {
  if (!queue.length) return Promise.resolve();
  return new Promise((resolve) => { flushWaiters.push(resolve); pump(); });
}

// The jobs queued behind a refused answer (already taken off the queue) that supersede it,
// directly or through one another, taken off too; each undoes its page effects, newest first, so
// the page is as the answer left it when its refusal is handled.
function dropDependents(job) {
  const dropped = [];
  if (isChange(job)) return dropped;
  const refusedIds = new Set([job.payload.client_id]);
  for (let i = 0; i < queue.length;) {
    const next = queue[i];
    if (refusedIds.has(next.payload.supersedes_client_id)) {
      refusedIds.add(next.payload.client_id);
      dropped.push(...queue.splice(i, 1));
    } else {
      i += 1;
    }
  }
  dropped.slice().reverse().forEach((j) => { if (j.dropped) j.dropped(); });
  return dropped;
}

// The sentence a refusal adds for the jobs that went with it.
export function notSent(dropped) {
  if (!dropped || !dropped.length) return [];
  const n = dropped.length;
  return [` ${n === 1 ? "The change" : `The ${n} changes`} you made to it after ${n === 1 ? "was" : "were"} not sent.`];
}

// Keys pressed while a batch loaded were answering keys, never applied (keys.js): said until the
// next answer (actions.js answer) or lease.
export const unappliedText = () =>
  `${state.unappliedKeys} key(s) pressed before the batch appeared were not applied`;

const isChange = (job) => job.payload.supersedes_client_id !== undefined || job.payload.supersedes !== undefined;

// The two refusals read before the response is consumed (a clone: the body is read once more).
async function saysNoLongerMember(response) {
  const { reason } = await refusalOf(response.clone());
  return reason.startsWith("You are no longer a member"); // projects.locks.not_a_member's wording
}

async function isRenamedLabel(response) {
  return (await refusalOf(response.clone())).field === "label_name";
}

// A reply (to the request of `ticket`: stale_labels.js labelsTicket) carried the project's labels
// (the page's were out of date; a lease's or a renewal's reply too): take them unless a reply to a
// later request told the page its labels first, and say what a lead changed, unless an unread
// error holds the notice.
export function followServerLabels(data, ticket) {
  if (!freshLabels(ticket, data)) return;
  const said = describeLabelChange(adoptServerLabels(data.labels, data.labels_version));
  renderLabelHelp(); // the Labels and Keys panels read as the buttons do (a description may be all that changed)
  // Nothing the annotator sees changed (the page learning the version, the server creating the
  // Other label for its first "none of these"): no redraw, which would take a Tab-focused button
  // away; the next answer draws with the new labels anyway.
  if (!said.length) return;
  if (!(els.notice.classList.contains("error") && !els.notice.hidden)) {
    notify(["A lead changed the project's labels: ", ...said, ". The buttons and keys follow them now."], "info");
  }
  const focused = document.activeElement && document.activeElement.matches("button.label-btn")
    ? document.activeElement.dataset.label : null;
  render();
  if (focused !== null) { // the buttons were drawn anew: the keyboard stays on the same label, if it is still there
    const again = els.buttons.querySelector(`button.label-btn[data-label="${CSS.escape(focused)}"]`);
    if (again && !again.disabled) again.focus();
    else focusItem();
  }
}

const named = (name) => ["“", bdi(name), "”"];
const list = (names) => names.flatMap((n, i) => (i ? [", ", ...named(n)] : named(n)));

// What key `k` answers now, by name (a top-level label's key before a fine label's).
function answersNow(k) {
  const holders = labels.filter((l) => key(l.hotkey) === k && !isGone(l.id));
  const l = holders.find((h) => h.parent === null) || holders[0];
  return !l || l === otherLabel ? noneName() : fullName(l);
}

function describeLabelChange({ renamed, added, removed, keysMoved, moved }) {
  const parts = [];
  const add = (...more) => { if (parts.length) parts.push("; "); parts.push(...more); };
  renamed.forEach((r) => add(...named(r.from), " is now ", ...named(r.to)));
  if (added.length) add("added ", ...list(added.map((l) => l.name)));
  if (removed.length) add("removed ", ...list(removed.map((l) => l.name)));
  // The keys that answer something else now, each with what: its next press only says so (keys.js).
  if (moved.length) {
    add("hotkeys moved: ", ...moved.flatMap((k, i) => [i ? ", " : "", `${k} is `, ...named(answersNow(k))]));
  }
  else if (keysMoved && !parts.length) add("hotkeys moved");
  return parts;
}

// An answer refused because its label's name changed: nothing was stored and the lease is still
// the annotator's, so the item waits for another answer, chosen under the current labels.
function putBackUnanswered(job, reason, dropped) {
  const item = state.items.find((it) => it.assignment === job.payload.assignment);
  const entry = state.history.find((e) => e.client_id === job.payload.client_id);
  if (entry) removeEntry(entry);
  if (item) {
    item.answer = null;
    item.stored = false;
    if (!state.items[state.index] || state.items[state.index].answer) state.index = state.items.indexOf(item);
  }
  notify([`Not saved (item ${job.item}): `, bdi(reason), ...notSent(dropped), ` Item ${job.item} waits for your answer.`],
    "error");
}

// What the server refused because the annotator was removed: each queued job, and the batch.
function refuseForRemoval(job) {
  notSaved.push({ item: job.item, label: job.label });
  if (job.refused) job.refused(state.removed, "membership", {}, []);
}

// The server says the annotator is no longer a member: nothing queued can be stored, nor anything
// given from now on (enqueue refuses it on the spot). main.js may call it for a lease renewal's 403.
export function memberRemoved(message) {
  if (state.removed) return;
  state.removed = message;
  halted = true;
  const dropped = queue.splice(0, queue.length);
  dropped.forEach(refuseForRemoval);
  // The batch leaves the page: its items can no longer be answered, so none is offered.
  state.items = [];
  state.index = 0;
  state.reopen = null;
  state.started = false;
  els.startMessage.textContent = message;
  notify(message, "error");
  render();
  setSaveStatus();
  const waiters = flushWaiters;
  flushWaiters = [];
  waiters.forEach((resolve) => resolve());
}

function showRetry() {
  const retry = document.createElement("button");
  retry.type = "button";
  retry.textContent = "Retry";
  retry.addEventListener("click", () => { halted = false; notify(""); setSaveStatus(); pump(); });
  els.notice.appendChild(document.createTextNode(" "));
  els.notice.appendChild(retry);
}
