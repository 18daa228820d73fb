/* Labels this page shows that are no longer the project's: a lead deleted (or replaced) them after
   the page was loaded. The page's label list is fixed for its lifetime (state.js), so the server's
   refusal of an answer with such a label (400 on the field "label") is how the page learns of it;
   it then asks the server for the current labels, so that every removed one is known at once,
   not one refusal at a time. Removed labels stay on screen, disabled, until the annotator reloads. */
import { config, labels } from "./state.js";

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
