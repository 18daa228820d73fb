/* Background saving. Answers, changes and clears queue here and go to the server one at a time,
   in order, so the annotator never waits on the network and a change always reaches the server
   after the answer it changes. A failed send is retried with the same client id, which the
   server uses to store each answer once. A 401/403 halts the queue without dropping anything
   (the annotator signs in again in another tab and presses Retry); any other 4xx is a refusal
   for good, shown and counted as handled so the batch can finish; the header then says how many
   answers were not saved (never "All answers saved") until the item is answered again and stored,
   or the page is reloaded.

   A job: {url, payload, label (for messages), item (the item's id), stored(data),
   refused(reason, field)}; refused returns true when it told the annotator itself. */
import { post, refusalOf, sleep } from "./http.js";
import { notify, render, renderProgress } from "./render.js";
import { els, state } from "./state.js";

const queue = [];          // jobs not yet acknowledged by the server, in order
let pumping = false;
let flushWaiters = [];
let halted = false;        // the server refused our session (401/403): keep answers, stop sending
let notSaved = [];         // refused jobs' items ({item, label}) not stored since
export const timings = []; // ms from enqueue to the server's acknowledgement (the soak reads them)

export const pendingCount = () => queue.length;
export const isHalted = () => halted;

export function setSaveStatus() {
  const refused = notSaved.length;
  const refusedText = `${refused} answer${refused === 1 ? "" : "s"} not saved (see the notice)`;
  if (halted) els.saveStatus.textContent = `${queue.length} answer(s) waiting: sign in again to save them`;
  else if (queue.length) els.saveStatus.textContent = `Saving ${queue.length} answer(s)…`;
  else els.saveStatus.textContent = refused ? refusedText : "All answers saved";
  els.saveStatus.dataset.pending = String(queue.length);
  els.saveStatus.dataset.refused = String(refused);
  els.saveStatus.classList.toggle("refused", refused > 0 && !queue.length);
  els.doneMessage.textContent = state.leaseNote ||
    (queue.length ? "Your answers are being saved in the background."
      : refused ? `${refusedText}; your other answers are saved.` : "All your answers are saved.");
}

export function enqueue(job) {
  job.tries = 0;
  job.queuedAt = performance.now();
  queue.push(job);
  setSaveStatus();
  pump();
}

async function pump() {
  if (pumping || halted) return;
  pumping = true;
  while (queue.length && !halted) {
    const job = queue[0];
    let response = null;
    try {
      response = await post(job.url, job.payload);
    } catch (e) {
      response = null; // network error: retry below
    }
    if (response && response.ok) {
      const data = await response.json();
      queue.shift();
      timings.push(performance.now() - job.queuedAt);
      // A later answer on the item stored: what was refused on it no longer stands.
      if (job.item !== undefined) notSaved = notSaved.filter((n) => n.item !== job.item);
      if (job.stored) job.stored(data);
      renderProgress();
    } else if (response && (response.status === 401 || response.status === 403)) {
      halted = true;
      notify("Your session ended, so answers are not being saved. Sign in again in another tab, then press Retry.", "error");
      showRetry();
    } else if (response && response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
      // Refused for good (e.g. the lease expired and someone else took the slot): say so, go on.
      queue.shift();
      const { reason, field } = await refusalOf(response);
      notSaved.push({ item: job.item, label: job.label });
      const told = job.refused ? job.refused(reason, field) : false;
      if (!told) notify(`Not saved (${job.label}): ${reason}`, "error");
      render();
    } else {
      job.tries += 1;
      els.saveStatus.textContent = `Saving failed (${response ? "HTTP " + response.status : "network"}), retrying…`;
      await sleep(Math.min(500 * 2 ** Math.min(job.tries, 5), 10000));
    }
    setSaveStatus();
  }
  pumping = false;
  if (!queue.length) {
    const waiters = flushWaiters;
    flushWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}

// Leasing waits for every queued answer first, so the server counts them before it hands out more.
export function flush() {
  if (!queue.length) return Promise.resolve();
  return new Promise((resolve) => { flushWaiters.push(resolve); pump(); });
}

function showRetry() {
  const retry = document.createElement("button");
  retry.type = "button";
  retry.textContent = "Retry";
  retry.addEventListener("click", () => { halted = false; notify(""); setSaveStatus(); pump(); });
  els.notice.appendChild(document.createTextNode(" "));
  els.notice.appendChild(retry);
}
