/* Labels this page shows that are no longer the project's: a lead deleted, renamed or re-keyed
   them after the page was loaded. Two ways in: a reply that carries the project's current labels
   (the page sends the version it has; the server adds the labels when it is out of date, and with
   its refusal of an answer chosen by a name that changed) is adopted here, so names and hotkeys
   follow the server's; a refusal of a deleted label (400 on the field "label") makes the page ask
   the server which labels went, so every removed one is known at once, not one refusal at a time.
   Removed labels stay on screen, disabled and without their keys, until the annotator reloads.

   A key a lead gave another meaning is held once (takeMovedKey): its first press after the page
   took on the change only says what it does now, so a hand that learned the old key does not
   answer with a label nobody chose; the next press answers. Keys that kept their meaning answer
   at once, so the usual pace never pays for it.

   Replies come back in any order (a lease renewal and the outbox's sends go out on their own, and
   a slow network may hold one up), and labels_version is a digest, not an order: a late reply may
   carry labels older than those the page took from a newer one. So every request that may bring
   labels back takes a ticket when it is sent (labelsTicket: a number in the page's order of
   sending), and a reply's labels are taken only when its request was sent after the one whose
   reply last told the page its labels (freshLabels). A reply without labels tells it too, when
   the page still has the labels it sent: the server found them current. A reply left out may
   hold newer labels; the page then sends a version the server no longer has, and the next reply
   brings them (never older ones). */
import { config, fullName, key, labels, noneHotkey, noneHotkeyFree, otherLabel, replaceLabels,
  state } from "./state.js";

const gone = new Set();
const movedKeys = new Set(); // keys whose meaning moved, not pressed since

export const isGone = (id) => id !== null && id !== undefined && gone.has(id);
export const anyGone = () => gone.size > 0;
export const goneCount = () => gone.size;

// True (once) when `k` is a key whose meaning moved and has not been pressed since.
export const takeMovedKey = (k) => movedKeys.delete(k);

// What each of the project's keys answers now: key → {ids, names} of its labels (the Other label
// and the built-in none-of-these answer read "none": the server creating the first is no move).
function keyMeanings() {
  const meanings = new Map();
  const add = (k, id, name) => {
    const was = meanings.get(k) || { ids: "", names: "" };
    meanings.set(k, { ids: `${was.ids},${id}`, names: `${was.names}\u0001${name}` });
  };
  for (const l of labels) {
    if (!key(l.hotkey) || gone.has(l.id)) continue;
    if (l === otherLabel) add(key(l.hotkey), "none", "none");
    else add(key(l.hotkey), l.id, fullName(l));
  }
  if (!otherLabel && noneHotkeyFree) add(noneHotkey, "none", "none");
  return meanings;
}

// A key moved when it answers other labels under other names: a rename keeps the label (the
// answer is the one meant), and a new label given the old one's name and key reads the same.
const movedFrom = (was, now) => Boolean(was) && was.ids !== now.ids && was.names !== now.names;

let sent = 0;    // requests sent that may bring the project's labels back
let settled = 0; // the ticket of the request whose reply last told the page its labels

// At each send (a retry too): {n, version}, the request's place in the order sent and the version
// of the labels it names.
export function labelsTicket() {
  sent += 1;
  return { n: sent, version: state.labelsVersion };
}

// Whether the reply `data` to the request of `ticket` carries labels the page should take; a reply
// to a request sent before the one that last told the page its labels never does.
export function freshLabels(ticket, data) {
  if (!data || ticket.n <= settled) return false;
  if (data.labels) {
    settled = ticket.n;
    return true;
  }
  // No labels: the server found the version the request named current ("" never is, server-side).
  if (ticket.version && ticket.version === state.labelsVersion) settled = ticket.n;
  return false;
}

export function markGone(id) {
  if (id !== null && id !== undefined) gone.add(id);
}

// The project's current labels (every page of the list API), compared with the page's. Returns
// {removed: [page labels the server no longer has], added: n} and marks the removed ones; null
// when the server could not be asked (the refused label is marked all the same).
export async function compareWithServer() {
  const current = new Set();
  let url = `/api/projects/${encodeURIComponent(config.project)}/labels/`;
  try {
    for (let pages = 0; url && pages < 50; pages += 1) {
      const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (!response.ok) return null;
      const data = await response.json();
      const rows = Array.isArray(data) ? data : (data.results || []);
      rows.forEach((row) => current.add(row.id));
      url = Array.isArray(data) ? null : data.next;
    }
  } catch (e) {
    return null;
  }
  const removed = labels.filter((l) => !current.has(l.id));
  removed.forEach((l) => gone.add(l.id));
  const known = new Set(labels.map((l) => l.id));
  return { removed, added: [...current].filter((id) => !known.has(id)).length };
}

// Adopt the server's labels (labels_payload) and their version. Returns what changed for the
// annotator, {renamed: [{from, to}], added: [labels], removed: [labels], keysMoved}, so the caller
// can say it, and `moved`: the keys that answered something before and now answer something
// else (held once, see takeMovedKey). A label the server no longer has keeps its place, disabled
// and without its key (a new label may hold that key now), so that answers already given with it
// still read by name.
export function adoptServerLabels(payload, version) {
  const meant = keyMeanings();
  const before = new Map(labels.map((l) => [l.id, l]));
  const incoming = new Set(payload.map((l) => l.id));
  const removed = labels.filter((l) => !incoming.has(l.id));
  const newlyRemoved = removed.filter((l) => !gone.has(l.id)); // the others were said when they went
  const renamed = payload.filter((l) => before.has(l.id) && before.get(l.id).name !== l.name)
    .map((l) => ({ from: before.get(l.id).name, to: l.name }));
  // The Other label the server created for the page's own first "none of these" (the built-in
  // answer, services.ensure_other_label) is no lead's change: not said.
  const builtinOther = (l) => l.is_other && l.parent === null && !otherLabel;
  const added = payload.filter((l) => !before.has(l.id) && !builtinOther(l));
  const keysMoved = payload.some((l) => before.has(l.id) && key(before.get(l.id).hotkey) !== key(l.hotkey));
  replaceLabels([...payload, ...removed.map((l) => Object.assign({}, l, { hotkey: "" }))]);
  removed.forEach((l) => gone.add(l.id));
  if (version) state.labelsVersion = version;
  const moved = [...keyMeanings()].filter(([k, now]) => movedFrom(meant.get(k), now)).map(([k]) => k);
  moved.forEach((k) => movedKeys.add(k));
  return { renamed, added, removed: newlyRemoved, keysMoved: keysMoved || moved.length > 0, moved };
}
