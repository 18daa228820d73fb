/* The project's labels changed under the page: a lead removed a label after the page was loaded,
   and the server refused an answer with it (or the page already knew it was gone). The notice
   names the labels (isolated, as user text), keeps them from being used and offers a reload. */
import { flush } from "./outbox.js";
import { bdi, notify, renderLabels } from "./render.js";
import { compareWithServer, markGone } from "./stale_labels.js";
import { byId, els, fullName } from "./state.js";

// A label named in a sentence: quoted and isolated (fresh nodes on every call).
const quoted = (l) => ["“", bdi(fullName(l)), "”"];
const labelName = (id) => (byId.has(id) ? quoted(byId.get(id)) : [`label ${id}`]);
const textOf = (parts) => parts.map((p) => (typeof p === "string" ? p : p.textContent)).join("");

// A refusal on the field "label": say the labels changed, name every label that went (asked of
// the server), keep them from being used, and offer the reload that brings the current ones.
export function labelsChanged(prefix, labelId, outcome) {
  markGone(labelId);
  const said = () => [`${prefix}: `, ...labelName(labelId), " is no longer a label of this project. A lead " +
    `changed the labels after this page was loaded; ${outcome}.`];
  offerReload(said());
  renderLabels();
  compareWithServer().then((diff) => {
    if (!diff || !els.notice.textContent.startsWith(textOf(said()))) return; // a newer message replaced it
    const removed = diff.removed.flatMap((l, i) => (i ? [", ", ...quoted(l)] : quoted(l)));
    const parts = [];
    if (removed.length) parts.push("removed: ", ...removed);
    if (diff.added) parts.push(`${removed.length ? "; " : ""}${diff.added} added`);
    if (parts.length) offerReload([...said(), " Labels ", ...parts, "."]);
    renderLabels();
  });
}

export function goneLabelNotice(labelId) {
  offerReload([...labelName(labelId), " is no longer a label of this project: a lead changed the labels after " +
    "this page was loaded."]);
}

// The notice with a Reload button: it waits for the answers still being saved, then reloads (the
// held batch comes back with the answers stored and the current labels). message: a list of
// strings and nodes, as notify() takes.
function offerReload(message) {
  notify([...message, " Reload the page to get the current labels."], "error");
  const reload = document.createElement("button");
  reload.type = "button";
  reload.id = "reload-labels";
  reload.textContent = "Reload now";
  reload.addEventListener("click", () => { flush().then(() => window.location.reload()); });
  els.notice.appendChild(document.createTextNode(" "));
  els.notice.appendChild(reload);
}
