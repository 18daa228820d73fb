/* Background saving. Answers queue here and go to the server one at a time, in order, so the
   annotator never waits on the network. A failed send is retried with the same client id, which
   the server uses to store each answer once. A 401/403 halts the queue without dropping anything
   (the annotator signs in again in another tab and presses Retry); any other 4xx is a refusal for
   good, shown and counted as handled so the batch can finish. */
import { detailOf, post, sleep } from "./http.js";
import { notify, render, renderProgress } from "./render.js";
import { config, els, state } from "./state.js";

const queue = [];          // answers not yet acknowledged by the server, in order
let pumping = false;
let flushWaiters = [];
let halted = false;        // the server refused our session (401/403): keep answers, stop sending

// client_ids of the answers the server acknowledged, oldest first: undo names the newest, so it
// can never take back an earlier answer while a later one is still on its way.
export const storedIds = [];
export const pendingCount = () => queue.length;
export const isHalted = () => halted;

export function setSaveStatus() {
  if (halted) els.saveStatus.textContent = `${queue.length} answer(s) waiting: sign in again to save them`;
  else if (queue.length) els.saveStatus.textContent = `Saving ${queue.length} answer(s)…`;
  else els.saveStatus.textContent = "All answers saved";
  els.saveStatus.dataset.pending = String(queue.length);
  els.doneMessage.textContent = state.leaseNote ||
    (queue.length ? "Your answers are being saved in the background." : "All your answers are saved.");
}

export function enqueue(item, payload) {
  queue.push({ item, payload, tries: 0 });
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
      response = await post(config.answerUrl, job.payload);
    } catch (e) {
      response = null; // network error: retry below
    }
    if (response && response.ok) {
      const data = await response.json();
      queue.shift();
      job.item.stored = true;
      storedIds.push(job.payload.client_id);
      const progress = state.progress;
      if (data.created && progress) progress.done = Math.min(progress.done + 1, progress.needed);
      renderProgress();
    } else if (response && (response.status === 401 || response.status === 403)) {
      halted = true;
      notify("Your session ended, so answers are not being saved. Sign in again in another tab, then press Retry.", "error");
      showRetry();
    } else if (response && response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
      // Refused for good (e.g. the lease expired and someone else took the slot): say so, go on.
      // The item counts as handled so the batch can finish; the notice says what happened.
      queue.shift();
      const reason = await detailOf(response);
      job.item.answer = { kind: "rejected", reason };
      notify(`Not saved (item ${job.item.item}): ${reason}`, "error");
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

// Lease and undo wait for every queued answer first: the server must see answers in the order
// they were given, or an undo could take back the wrong one.
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
