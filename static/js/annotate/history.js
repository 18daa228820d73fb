/* This session's answers, newest first: the History panel. Each entry follows one item's live
   answer; a change replaces the entry's answer (the server keeps the old one as superseded), a
   clear removes the entry. Rows are drawn with textContent only. */
import { byId, config, els, fullName, state } from "./state.js";

const MAX_ROWS = 50;

export function describeAnswer(a) {
  if (!a) return "";
  if (a.kind === "rejected") return `Not stored: ${a.reason}`;
  if (a.kind === "skip") return `Skipped: ${a.reason}`;
  if (a.kind === "none") return "None of these";
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
  const other = row.is_other;
  const answer = row.skipped ? { kind: "skip", labelId: null, reason: row.skip_reason }
    : { kind: other ? "none" : "label", labelId: row.label, reason: "" };
  return {
    id: row.id, client_id: row.client_id, item: row.item, assignment: row.assignment,
    text: item ? item.text : row.text, source: item ? item.source : row.source, snippet: row.snippet,
    highlights: item ? item.highlights : [], metadata: item ? item.metadata : [],
    answer, at: new Date(row.created_at), status: "saved", changed: Boolean(row.supersedes),
  };
}

export function addEntry(item, clientId, answer) {
  const entry = {
    id: null, client_id: clientId, item: item.item, assignment: item.assignment, text: item.text,
    source: item.source, snippet: snippetOf(item.text), highlights: item.highlights || [],
    metadata: item.metadata || [], answer, at: new Date(), status: "saving", changed: false,
  };
  state.history = state.history.filter((e) => e.assignment !== item.assignment || e.item !== item.item);
  state.history.unshift(entry);
  return entry;
}

export function removeEntry(entry) {
  state.history = state.history.filter((e) => e !== entry);
}

// The entries a reopen can walk through: stored or about to be (never one the server refused).
export function reopenable() {
  return state.history.filter((e) => e.status !== "rejected");
}

const timeOf = (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export function renderHistory() {
  const list = els.historyList;
  list.replaceChildren();
  const rows = state.history.slice(0, MAX_ROWS);
  els.historyEmpty.hidden = rows.length > 0;
  for (const entry of rows) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "history-row" + (entry === state.reopen ? " reopened" : "") + (entry.status === "rejected" ? " rejected" : "");
    b.dataset.item = String(entry.item);
    b.tabIndex = -1; // the page's keys walk the history ([ ] and Backspace); a click never keeps focus
    if (entry === state.reopen) b.setAttribute("aria-current", "true");
    const top = document.createElement("span");
    top.className = "history-answer";
    const k = keyOf(entry.answer);
    if (k) {
      const kbd = document.createElement("kbd");
      kbd.textContent = k;
      top.appendChild(kbd);
      top.appendChild(document.createTextNode(" "));
    }
    const name = document.createElement("strong");
    name.className = "history-label";
    name.textContent = entry.status === "rejected" ? `Not stored: ${entry.answer.reason || ""}` : describeAnswer(entry.answer);
    top.appendChild(name);
    const when = document.createElement("span");
    when.className = "muted history-time";
    when.textContent = ` ${timeOf(entry.at)}${entry.changed ? " · changed" : ""}${entry.status === "saving" ? " · saving" : ""}`;
    top.appendChild(when);
    const text = document.createElement("span");
    text.className = "history-snippet";
    text.textContent = entry.snippet;
    b.appendChild(top);
    b.appendChild(text);
    li.appendChild(b);
    list.appendChild(li);
  }
}
