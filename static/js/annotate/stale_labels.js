/* Labels this page shows that are no longer the project's: a lead deleted, renamed or re-keyed
   them after the page was loaded. Two ways in: a reply that carries the project's current labels
   (the page sends the version it has; the server adds the labels when it is out of date, and with
   its refusal of an answer chosen by a name that changed) is adopted here, so names and hotkeys
   follow the server's; a refusal of a deleted label (400 on the field "label") makes the page ask
   the server which labels went, so every removed one is known at once, not one refusal at a time.
   Removed labels stay on screen, disabled and without their keys, until the annotator reloads. */
import { config, key, labels, otherLabel, replaceLabels, state } from "./state.js";

const gone = new Set();

export const isGone = (id) => id !== null && id !== undefined && gone.has(id);
export const anyGone = () => gone.size > 0;

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
// can say it. A label the server no longer has keeps its place, disabled and without its key (a
// new label may hold that key now), so that answers already given with it still read by name.
export function adoptServerLabels(payload, version) {
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
  return { renamed, added, removed: newlyRemoved, keysMoved };
}
