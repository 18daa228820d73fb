/* This session's answers, newest first: the History panel. Each entry follows one item's live
   answer; a change replaces the entry's answer (the server keeps the old one as superseded), a
   clear removes the entry. Rows are drawn with textContent only.

   An entry's time (at) is the server's created_at of the answer it shows: read from the row, or
   from the reply once the answer or change is stored (stampStored). Until then it is the
   browser's clock, which may be minutes off: atServer says which. */
import { clockTime } from "../local_times.js";
import { byId, config, els, fullName, otherLabel, state } from "./state.js";

const MAX_ROWS = 50;

// The name the none-of-these button shows (render.js): the project's Other label, else the
// built-in answer's. An answer given with the button, now or before a reload, reads the same.
export const noneName = () =>
  (otherLabel ? otherLabel.name : (config.builtinOther ? config.builtinOther.name : "None of these"));

export function describeAnswer(a) {
  if (!a) return "";
  if (a.kind === "rejected") return `Not stored: ${a.reason}`;
  if (a.kind === "skip") return `Skipped: ${a.reason}`;
  if (a.kind === "none") return noneName();
  const l = byId.get(a.labelId);
  return l ? fullName(l) : "Answered";
}

function keyOf(a) {
  if (!a) return "";
  if (a.kind === "skip") return ".";
  if (a.kind === "none") return config.noneKey || "";
  const l = byId.get(a.labelId);
  return l && l.hotkey ? l.hotkey : "";
}

const snippetOf = (text) => {
  const flat = String(text || "").replace(/\s+/g, " ").trim();
  return flat.length > 140 ? flat.slice(0, 139) + "…" : flat;
};

// A history row from the server (the page's config or GET history) as an entry.
export function entryFromRow(row, item) {
  // The button's answer is the Other label; a fine label ticked Other is answered (and named) as a label.
  const other = row.is_other && (!otherLabel || row.label === otherLabel.id);
  const answer = row.skipped ? { kind: "skip", labelId: null, reason: row.skip_reason }
    : { kind: other ? "none" : "label", labelId: row.label, reason: "" };
  return {
    id: row.id, client_id: row.client_id, item: row.item, assignment: row.assignment,
    text: item ? item.text : row.text, source: item ? item.source : row.source, snippet: row.snippet,
    highlights: item ? item.highlights : [], metadata: item ? item.metadata : [],
    highlights_cut: Boolean(item && item.highlights_cut), highlights_note: item ? item.highlights_note : "",
    answer, at: new Date(row.created_at), atServer: true, status: "saved", changed: Boolean(row.supersedes),
    waveOpen: row.wave_open !== false, // a cleared answer of a closed wave goes back to the pool
  };
}

export function addEntry(item, clientId, answer) {
  const entry = {
    id: null, client_id: clientId, item: item.item, assignment: item.assignment, text: item.text,
    source: item.source, snippet: snippetOf(item.text), highlights: item.highlights || [],
    highlights_cut: Boolean(item.highlights_cut), highlights_note: item.highlights_note || "",
    metadata: item.metadata || [], answer, at: new Date(), atServer: false, status: "saving", changed: false,
    waveOpen: true,
  };
  state.history = state.history.filter((e) => e.assignment !== item.assignment || e.item !== item.item);
  state.history.unshift(entry);
  return entry;
}

export function removeEntry(entry) {
  state.history = state.history.filter((e) => e !== entry);
}

// Where a reload lists an entry (history_selectors: newest created_at first, then highest id): before
// the first stored entry it is newer than. The browser's clock may be minutes off, so entries not
// stored yet are passed over: they stay above it, as the newest (and one not stored goes above all
// the stored ones).
function placeByTime(entry) {
  const newer = (e) => e.at > entry.at || (e.at.getTime() === entry.at.getTime() && (e.id || 0) > (entry.id || 0));
  const at = state.history.findIndex((e) => e.atServer && (!entry.atServer || !newer(e)));
  if (at < 0) state.history.push(entry);
  else state.history.splice(at, 0, entry);
}

// The answer or change sent with `clientId` is stored (`annotation`: the reply's): the entry that
// still shows it takes the time the server stored, and the place that time gives it, which a reload
// shows too: a change is the newest answer, so its entry goes up to the top. The [ and ] keys walk
// the list as it stands (they hold the reopened entry, not a position), so they follow the panel.
// An entry changed again meanwhile waits for that change's reply.
export function stampStored(clientId, annotation) {
  if (!annotation || !annotation.created_at) return;
  const entry = state.history.find((e) => e.client_id === clientId);
  const at = new Date(annotation.created_at);
  if (!entry || Number.isNaN(at.getTime())) return;
  entry.at = at;
  entry.atServer = true;
  if (annotation.id) entry.id = annotation.id;
  removeEntry(entry);
  placeByTime(entry);
}

// An entry taken out by a clear the server then refused goes back, in its place by time: the
// server's times only (a browser clock may be minutes off); entries not stored yet stay above it.
export function putBack(entry) {
  if (!state.history.includes(entry)) placeByTime(entry);
}

// The entries a reopen can walk through: stored or about to be (never one the server refused).
export function reopenable() {
  return state.history.filter((e) => e.status !== "rejected");
}

const timeOf = (d) => clockTime(d); // as the server-drawn pages show times (local_times.js)

// Rows are kept between renders: a new answer adds one row at the top, a save or a change only
// refills the rows that differ, so the panel costs little at 10 answers a second.
let drawn = [];

export function renderHistory() {
  const list = els.historyList;
  const rows = state.history.slice(0, MAX_ROWS);
  els.historyEmpty.hidden = rows.length > 0;
  const same = rows.length === drawn.length && rows.every((e, i) => e === drawn[i]);
  const onePrepended = !same && rows.length > 0 && rows.slice(1).every((e, i) => e === drawn[i]) &&
    drawn.length - (rows.length - 1) <= 1;
  if (onePrepended) {
    list.insertBefore(buildRow(), list.firstChild);
    while (list.children.length > rows.length) list.removeChild(list.lastChild);
  } else if (!same) {
    list.replaceChildren(...rows.map(() => buildRow()));
  }
  rows.forEach((entry, i) => fillRow(list.children[i].firstChild, entry));
  drawn = rows;
}

function buildRow() {
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.tabIndex = -1; // the page's keys walk the history ([ ] and Backspace); a click never keeps focus
  const top = document.createElement("span");
  top.className = "history-answer";
  const kbd = document.createElement("kbd");
  const name = document.createElement("strong");
  name.className = "history-label";
  name.dir = "auto"; // a label name or skip reason never turns the row's time around
  const when = document.createElement("span");
  when.className = "muted history-time";
  top.append(kbd, " ", name, when);
  const text = document.createElement("span");
  text.className = "history-snippet";
  text.dir = "auto"; // right-to-left texts read in their own direction
  b.append(top, text);
  li.appendChild(b);
  return li;
}

function fillRow(b, entry) {
  const reopened = entry === state.reopen;
  const k = keyOf(entry.answer);
  const label = entry.status === "rejected" ? `Not stored: ${entry.answer.reason || ""}` : describeAnswer(entry.answer);
  const when = ` ${timeOf(entry.at)}${entry.changed ? " · changed" : ""}${entry.status === "saving" ? " · saving" : ""}`;
  const sig = [entry.item, k, label, when, reopened, entry.status].join("\u0001");
  if (b.dataset.sig === sig) return;
  b.dataset.sig = sig;
  b.className = "history-row" + (reopened ? " reopened" : "") + (entry.status === "rejected" ? " rejected" : "");
  b.dataset.item = String(entry.item);
  if (reopened) b.setAttribute("aria-current", "true");
  else b.removeAttribute("aria-current");
  const [top, text] = b.children;
  const [kbd, name, time] = top.children;
  kbd.textContent = k;
  kbd.hidden = !k;
  name.textContent = label;
  time.textContent = when;
  text.textContent = entry.snippet;
}
